/**
 * `emergence`: the command line. Subcommands live in `commands/`, each a `register(program)` function; they
 * parse, call into the subsystems, and print through `output.ts`. Failures print one line and exit non-zero.
 */
import { Command, CommanderError } from 'commander'
import { DATA_DIR_ENV } from '../store/paths.ts'
import { reportError } from './output.ts'
import { registerImageCommands } from './commands/image.ts'
import { registerStoreCommands } from './commands/store.ts'
import { registerNodeCommands } from './commands/node.ts'
import { registerRunCommands } from './commands/run.ts'
import { registerAutomatonCommands } from './commands/automaton.ts'
import { registerNixCommands } from './commands/nix.ts'
import { registerBuildCommands } from './commands/build.ts'
import { registerRegistryCommands } from './commands/registry.ts'

export function buildProgram (): Command {
  const program = new Command('emergence')
    .description('Peer-to-peer distribution of OCI images and Nix closures, and runc automata')
    .version('0.1.0')
    .option('--data-dir <dir>', `data directory (default: $${DATA_DIR_ENV}, else $XDG_DATA_HOME/emergence, else ~/.local/share/emergence)`)
    .option('--json', 'print results as JSON')
    // Usage errors print like every other failure (output.ts reportError): one `emergence: error:` line.
    .configureOutput({
      outputError: (text, write) => { write(`emergence: error: ${text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`) }
    })
    .exitOverride()
  registerImageCommands(program)
  registerBuildCommands(program)
  registerStoreCommands(program)
  registerNodeCommands(program)
  registerRunCommands(program)
  registerAutomatonCommands(program)
  registerNixCommands(program)
  registerRegistryCommands(program)
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
