/**
 * `emergence`: the command line. Subcommands live in `commands/`, each a `register(program)` function; they
 * parse, call into the subsystems, and print through `output.ts`. Failures print one line and exit non-zero.
 */
import { Command, CommanderError, Option } from 'commander'
import { DATA_DIR_ENV } from '../store/paths.ts'
import { LOG_ENV, LOG_LEVELS, setLogLevel, type LogLevel } from '../util/logger.ts'
import { reportError } from './output.ts'
import { registerImageCommands } from './commands/image.ts'
import { registerStoreCommands } from './commands/store.ts'
import { registerNodeCommands } from './commands/node.ts'
import { registerRunCommands } from './commands/run.ts'
import { registerAutomatonCommands } from './commands/automaton.ts'
import { registerNixCommands } from './commands/nix.ts'
import { registerBuildCommands } from './commands/build.ts'
import { registerRegistryCommands } from './commands/registry.ts'
import { registerSyncCommands } from './commands/sync.ts'

export function buildProgram (): Command {
  const program = new Command('emergence')
    .description('Peer-to-peer distribution of OCI images and Nix closures, and runc automata')
    .version('0.1.0')
    .option('--data-dir <dir>', `data directory (default: $${DATA_DIR_ENV}, else $XDG_DATA_HOME/emergence, else ~/.local/share/emergence)`)
    .option('--json', 'print results as JSON')
    .addOption(new Option('--log-level <level>', `log level on stderr (default: $${LOG_ENV}, else the node's logLevel, else warn)`).choices(LOG_LEVELS))
    // Usage errors print like every other failure (output.ts reportError): one `emergence: error:` line.
    .configureOutput({
      outputError: (text, write) => { write(`emergence: error: ${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`) }
    })
    .exitOverride()
    // The flag wins over EMERGENCE_LOG (util/logger.ts); the node's `logLevel` key is applied once its config is read.
    .hook('preAction', (root: Command) => {
      const level = root.opts<{ logLevel?: LogLevel }>().logLevel
      if (level !== undefined) setLogLevel(level)
    })
  registerImageCommands(program)
  registerBuildCommands(program)
  registerStoreCommands(program)
  registerNodeCommands(program)
  registerRunCommands(program)
  registerAutomatonCommands(program)
  registerNixCommands(program)
  registerRegistryCommands(program)
  registerSyncCommands(program)
  return program
}

export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    // A command may set its own exit code (`run` passes the container's through).
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // The line is on stderr already; a script reading `--json` output gets the error as JSON too.
      if (err.exitCode !== 0 && argv.includes('--json')) process.stdout.write(JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, '') } }) + '\n')
      return err.exitCode
    }
    return reportError(err, argv.includes('--json'))
  }
}

process.exitCode = await main(process.argv)
