// The folders of src/ are rooms with doors (CONTRIBUTING.md, "Where things are"): code imports
// its own room, or the doors of a lower room, never a higher room or a lower room's internals.
// Part of `npm run validate` (scripts/validate-workflows.mjs).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'

/**
 * The rooms, lowest first, with their doors: the files code outside the room may import. A file
 * belongs to the room with the longest matching prefix.
 * @type {{ room: string, doors: string[] }[]}
 */
export const ROOMS = [
  // Shared by all three programs: the one door out, errors, the typed settings.
  { room: 'src/errors.ts', doors: ['src/errors.ts'] },
  { room: 'src/log.ts', doors: ['src/log.ts'] },
  { room: 'src/settings.ts', doors: ['src/settings.ts'] },
  // The PKCS#12 reader (loaded on demand as dist/pfx.js) and the DER reader PEM repair uses too.
  { room: 'src/keys/pkcs12/', doors: ['src/keys/pkcs12/pfx.ts', 'src/keys/pkcs12/der.ts'] },
  { room: 'src/keys/', doors: ['src/keys/credential.ts'] },
  {
    room: 'src/oauth/',
    doors: ['src/oauth/assertion.ts', 'src/oauth/token.ts', 'src/oauth/retry.ts']
  },
  { room: 'src/service/', doors: ['src/service/start.ts', 'src/service/config.ts'] },
  { room: 'src/action/', doors: ['src/action/main.ts'] },
  { room: 'src/index.ts', doors: [] }
]

/** The shared files at the bottom import one another freely: they are one floor. */
const SHARED = 3

/** `from '…'`, `import '…'` and `import('…')` with a relative path. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.\.?\/[^'"]+)['"]/g

/** @param {string} file a path relative to the root, with forward slashes */
function roomOf(file) {
  let best = -1
  ROOMS.forEach(({ room }, index) => {
    const matches = room.endsWith('/') ? file.startsWith(room) : file === room
    if (matches && (best < 0 || room.length > ROOMS[best].room.length)) best = index
  })
  return best
}

/** @param {number} index */
const floorOf = (index) => Math.max(index, SHARED - 1)

/** @param {string} root @param {string} dir @returns {string[]} */
function sourceFiles(root, dir) {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = posix.join(dir, name)
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(root, path)
    return /\.ts$/.test(name) ? [path] : []
  })
}

/**
 * Every relative import in src/ that runs up a floor, or into another room past its doors.
 * @param {string} root
 * @returns {import('./validate-workflows.mjs').Problem[]}
 */
export function checkLayers(root) {
  /** @type {import('./validate-workflows.mjs').Problem[]} */
  const problems = []
  if (!existsSync(join(root, 'src'))) return problems
  for (const file of sourceFiles(root, 'src')) {
    const from = roomOf(file)
    const lines = readFileSync(join(root, file), 'utf8').split(/\r?\n/)
    lines.forEach((line, index) => {
      for (const match of line.matchAll(IMPORT)) {
        const target = posix.join(posix.dirname(file), match[1]).replace(/\.js$/, '.ts')
        const to = roomOf(target)
        if (to === from || to < 0 || from < 0) continue
        const { room, doors } = ROOMS[to]
        const message =
          floorOf(to) > floorOf(from)
            ? `${file} (${ROOMS[from].room}) imports ${target}, a higher room (${room}): move what both need down, e.g. into src/settings.ts.`
            : !doors.includes(target)
              ? `${file} imports ${target}, inside ${room}: use its doors (${doors.join(', ')}), or make ${posix.basename(target)} one in scripts/check-layers.mjs if it is meant for other rooms.`
              : ''
        if (message) {
          // The path's column, 1-based.
          const column = (match.index ?? 0) + match[0].length - match[1].length
          problems.push({ file, line: index + 1, column, message })
        }
      }
    })
  }
  return problems
}
