/**
 * Plots the fan-out sweep (the JSON lines `fanout.ts --json=FILE` appends) as an SVG of wall time against the
 * number of pulling hosts N, one line per system plus the ideal S/B, for one image size. No plotting library:
 * a few lines of SVG. Usage:
 *
 *   node scripts/bench/plot-fanout.ts fanout.json [--mb=64] [--out=docs/fanout.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs'

interface Row {
  n: number
  mb: number
  rate: string
  ideal: number
  /** Absent when Emergence's run failed. */
  emergence?: number
  registry?: number
  torrent?: number
}

const W = 640
const H = 400
const M = { left: 60, right: 180, top: 40, bottom: 50 }

const SERIES: Array<{ key: 'emergence' | 'registry' | 'torrent' | 'ideal', name: string, color: string, dash?: string }> = [
  { key: 'emergence', name: 'Emergence', color: '#1b7837' },
  { key: 'torrent', name: 'BitTorrent (aria2c)', color: '#2166ac' },
  { key: 'registry', name: 'docker-registry + skopeo', color: '#b2182b' },
  { key: 'ideal', name: 'ideal S/B', color: '#777777', dash: '6 4' }
]

function niceMax (value: number): number {
  const step = 10 ** Math.floor(Math.log10(value))
  return Math.ceil(value / step) * step
}

export function plot (rows: readonly Row[], title: string): string {
  const ns = [...new Set(rows.map(r => r.n))].sort((a, b) => a - b)
  const maxY = niceMax(Math.max(...rows.flatMap(r => [r.emergence ?? 0, r.registry ?? 0, r.torrent ?? 0, r.ideal])))
  const maxN = Math.max(...ns)
  const x = (n: number): number => M.left + (n / maxN) * (W - M.left - M.right)
  const y = (s: number): number => H - M.bottom - (s / maxY) * (H - M.top - M.bottom)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="14">${title}</text>`,
    `<line x1="${M.left}" y1="${y(0)}" x2="${W - M.right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${y(0)}" x2="${M.left}" y2="${M.top}" stroke="black"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">pulling hosts N</text>`,
    `<text x="16" y="${(M.top + H - M.bottom) / 2}" transform="rotate(-90 16 ${(M.top + H - M.bottom) / 2})" text-anchor="middle">wall time, s</text>`
  ]
  for (let i = 0; i <= 5; i++) {
    const s = (maxY / 5) * i
    out.push(`<line x1="${M.left - 4}" y1="${y(s)}" x2="${W - M.right}" y2="${y(s)}" stroke="#e0e0e0"/>`,
      `<text x="${M.left - 8}" y="${y(s) + 4}" text-anchor="end">${Number(s.toFixed(1))}</text>`)
  }
  for (const n of ns) out.push(`<text x="${x(n)}" y="${y(0) + 18}" text-anchor="middle">${n}</text>`)
  SERIES.forEach((series, i) => {
    const points = ns.flatMap(n => {
      const value = rows.find(r => r.n === n)?.[series.key]
      return value !== undefined ? [[x(n), y(value)] as const] : []
    })
    const dash = series.dash !== undefined ? ` stroke-dasharray="${series.dash}"` : ''
    out.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`)
    for (const [px, py] of points) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3.5" fill="${series.color}"/>`)
    const ly = M.top + 20 + i * 22
    out.push(`<line x1="${W - M.right + 14}" y1="${ly}" x2="${W - M.right + 38}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${W - M.right + 44}" y="${ly + 4}">${series.name}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function main (): void {
  const file = process.argv.slice(2).find(a => !a.startsWith('--'))
  if (file === undefined) throw new Error('usage: plot-fanout.ts FILE.json [--mb=64] [--out=docs/fanout.svg]')
  const mb = Number(process.argv.find(a => a.startsWith('--mb='))?.slice(5) ?? 64)
  const outFile = process.argv.find(a => a.startsWith('--out='))?.slice(6) ?? 'docs/fanout.svg'
  const rows = readFileSync(file, 'utf8').split('\n').filter(line => line.trim() !== '').map(line => JSON.parse(line) as Row).filter(r => r.mb === mb)
  if (rows.length === 0) throw new Error(`no rows for ${mb} MiB in ${file}`)
  // The last row for each N wins (a sweep re-run replaces its earlier rows).
  const byN = new Map(rows.map(r => [r.n, r]))
  writeFileSync(outFile, plot([...byN.values()], `Fan-out of a ${mb} MiB image at ${rows[0]?.rate ?? ''} per host`))
}

main()
