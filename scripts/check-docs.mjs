// The Markdown pages a user reads on GitHub: every relative link must name a file of the
// repository and every #anchor a heading of the page it points to, with the anchors GitHub makes
// (github/cmark-gfm's anchor filter: lower case, punctuation dropped, spaces to hyphens, a repeated
// heading gets -1, -2, ...). Before publication the pages say OWNER where the repository's owner
// goes; once GITHUB_REPOSITORY is known, a placeholder left is a broken badge or an unowned
// CODEOWNERS line on the published page (CONTRIBUTING.md, "Releasing", says how to replace them).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

/**
 * The pages checked: README.md, the docs/ pages and the repository's own guides.
 * @param {string} root
 */
export function markdownPages(root) {
  const pages = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md'].filter((file) =>
    existsSync(join(root, file))
  )
  if (existsSync(join(root, 'docs'))) {
    for (const name of readdirSync(join(root, 'docs')).sort()) {
      if (name.endsWith('.md')) pages.push(`docs/${name}`)
    }
  }
  return pages
}

/**
 * The lines of a Markdown text outside fenced code blocks, as [1-based line, text] pairs.
 * @param {string} markdown
 * @returns {[number, string][]}
 */
function proseLines(markdown) {
  /** @type {[number, string][]} */
  const lines = []
  let fence = ''
  markdown.split(/\r?\n/).forEach((line, index) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1]
    if (marker && (fence === '' || marker.startsWith(fence))) {
      fence = fence === '' ? marker : ''
      return
    }
    if (fence === '') lines.push([index + 1, line])
  })
  return lines
}

/**
 * GitHub's anchor for a heading's text: Markdown markup (code ticks, emphasis, link targets)
 * removed, lower case, every character that is not a letter, digit, space, hyphen or underscore
 * dropped, spaces to hyphens.
 * @param {string} heading
 */
export function slug(heading) {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/**
 * Every anchor of a page: its headings' slugs (repeats numbered as GitHub numbers them) and any
 * explicit `<a id>`/`<a name>`.
 * @param {string} markdown
 * @returns {Set<string>}
 */
export function anchorsOf(markdown) {
  const anchors = new Set()
  /** @type {Map<string, number>} */
  const seen = new Map()
  for (const [, line] of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1]
    if (heading !== undefined) {
      const base = slug(heading)
      const count = seen.get(base) ?? 0
      seen.set(base, count + 1)
      anchors.add(count === 0 ? base : `${base}-${count}`)
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1])
  }
  return anchors
}

/**
 * The links of a page outside code: inline `[text](target)` and reference definitions.
 * @param {string} markdown
 * @returns {{ line: number, column: number, target: string }[]}
 */
export function linksOf(markdown) {
  /** @type {{ line: number, column: number, target: string }[]} */
  const links = []
  for (const [line, text] of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length))
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line, column: (m.index ?? 0) + 3, target: m[1] })
    }
    const reference = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(prose)
    if (reference) links.push({ line, column: 1, target: reference[1] })
  }
  return links
}

/**
 * Every relative link and anchor of the pages must resolve.
 * @param {string} root
 * @returns {import('./validate-workflows.mjs').Problem[]}
 */
export function checkLinks(root) {
  /** @type {import('./validate-workflows.mjs').Problem[]} */
  const problems = []
  /** @type {Map<string, Set<string>>} */
  const anchorCache = new Map()
  /** @param {string} file */
  const anchors = (file) => {
    if (!anchorCache.has(file))
      anchorCache.set(file, anchorsOf(readFileSync(join(root, file), 'utf8')))
    return /** @type {Set<string>} */ (anchorCache.get(file))
  }
  for (const page of markdownPages(root)) {
    for (const { line, column, target } of linksOf(readFileSync(join(root, page), 'utf8'))) {
      // Other sites, mail, and paths from GitHub's root (badges) are not the repository's files.
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue
      const [path, anchor] = splitTarget(target)
      const file =
        path === ''
          ? page
          : normalize(join(dirname(page), path))
              .split('\\')
              .join('/')
      if (path !== '' && (file.startsWith('..') || !existsSync(join(root, file)))) {
        problems.push({
          file: page,
          line,
          column,
          message: `The link '${target}' names no file of the repository.`
        })
        continue
      }
      if (anchor === undefined) continue
      const isPage = file.endsWith('.md') && statSync(join(root, file)).isFile()
      if (!isPage || !anchors(file).has(decodeURIComponent(anchor).toLowerCase())) {
        problems.push({
          file: page,
          line,
          column,
          message: `The link '${target}' names no heading of ${file}: GitHub's anchor is the heading in lower case, punctuation dropped, spaces as hyphens.`
        })
      }
    }
  }
  return problems
}

/** @param {string} target @returns {[string, string | undefined]} */
function splitTarget(target) {
  const hash = target.indexOf('#')
  return hash === -1 ? [target, undefined] : [target.slice(0, hash), target.slice(hash + 1)]
}

/**
 * The files that name the repository or its owner before publication (scripts/publish.mjs).
 * @param {string} root
 */
export function placeholderFiles(root) {
  const files = ['README.md', '.github/CODEOWNERS']
  for (const dir of ['docs', 'examples']) {
    if (!existsSync(join(root, dir))) continue
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (/\.(md|ya?ml)$/.test(name)) files.push(`${dir}/${name}`)
    }
  }
  return files.filter((file) => existsSync(join(root, file)))
}

/**
 * Once the repository is known (GITHUB_REPOSITORY, `owner/name`, set on every runner), no OWNER
 * placeholder may remain in the published pages or in CODEOWNERS: GitHub would show broken
 * badges and a CODEOWNERS line with no owner.
 * @param {string} root
 * @param {string | undefined} repository
 * @returns {import('./validate-workflows.mjs').Problem[]}
 */
export function checkPlaceholders(root, repository) {
  if (!repository || repository.split('/')[0] === 'OWNER') return []
  /** @type {import('./validate-workflows.mjs').Problem[]} */
  const problems = []
  for (const file of placeholderFiles(root)) {
    readFileSync(join(root, file), 'utf8')
      .split(/\r?\n/)
      .forEach((line, index) => {
        const column = line.search(/\bOWNER\/certificate-token-action\b|@OWNER\b/)
        if (column === -1) return
        problems.push({
          file,
          line: index + 1,
          column: column + 1,
          message: `OWNER is still a placeholder in ${repository}: run 'node scripts/publish.mjs ${repository}' (CONTRIBUTING.md, Releasing).`
        })
      })
  }
  return problems
}
