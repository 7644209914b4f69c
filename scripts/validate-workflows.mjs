// Checks what users copy and what GitHub loads with GitHub's own parsers (@actions/languageservice,
// the engine of the GitHub Actions extension for VS Code, on @actions/workflow-parser's schemas):
// action.yml against the action metadata schema; every workflow under .github/workflows/ and
// examples/ and every ```yaml block of README.md and docs/*.md as a workflow (a block that is a list of steps is
// checked as the steps of a job). A step that uses this action (`./`, or
// `OWNER/certificate-token-action@REF`) may only pass inputs that action.yml declares, must pass
// the required ones, and `steps.<id>.outputs.<name>` must name one of its outputs. Each example
// must be in README.md or a docs/ page word for word, and run as written (scripts/check-examples.mjs);
// every relative link and anchor of the pages resolves (scripts/check-docs.mjs); the repository's own workflows must set `permissions:` and
// pin other repositories' actions by commit SHA. Tests must hold on every OS (checkTestPortability),
// and src/ imports only down and through doors (scripts/check-layers.mjs).
//
// Usage: node scripts/validate-workflows.mjs [repository root]. Prints `file:line:column: message`
// for each problem (and a GitHub annotation on a runner) and exits 1 if there is any.
import { register } from 'node:module'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { checkLayers } from './check-layers.mjs'
import { checkLinks, checkPlaceholders } from './check-docs.mjs'
import { checkExample } from './check-examples.mjs'

/**
 * One problem, 1-based line and column in the file as it is on disk.
 * @typedef {{ file: string, line: number, column: number, message: string }} Problem
 */
/**
 * A piece of text to validate, and where its lines and columns sit in the file.
 * @typedef {object} Source
 * @property {string} file path relative to the repository root, as reported.
 * @property {string} text the YAML as validated.
 * @property {'action' | 'workflow'} kind
 * @property {number} lineOffset 0-based file line of the text's first line, minus header lines.
 * @property {number} columnOffset added to each column (negative for a wrapped fragment).
 * @property {number} firstLine 1-based file line of the text's first line of its own.
 */

const ACTION_NAME = 'certificate-token-action'
/** The runtime the action is built for (DESIGN.md): anything else in action.yml is a mistake. */
const RUNTIME = 'node24'
/** A fragment that is a list of steps becomes the steps of this job; its lines move right by 6. */
const STEPS_HEADER = [
  'on: workflow_dispatch',
  'jobs:',
  '  snippet:',
  '    runs-on: ubuntu-latest',
  '    steps:'
]
const STEPS_INDENT = '      '

/**
 * @workflow-parser imports its JSON schemas without an import attribute (it is built for
 * bundlers); Node refuses such an import. This hook adds `type: 'json'` to JSON imports.
 */
function allowJsonImports() {
  const hook = `export async function load(url, context, next) {
    if (url.endsWith('.json')) return next(url, { ...context, importAttributes: { type: 'json' } })
    return next(url, context)
  }`
  register(`data:text/javascript,${encodeURIComponent(hook)}`)
}

/** GitHub's parsers, loaded once the JSON hook is in place. */
async function loadLanguageService() {
  allowJsonImports()
  const [service, cache, reference, parser, tokens, expressions, textDocument, yaml] =
    await Promise.all([
      import('@actions/languageservice'),
      import('@actions/languageservice/utils/workflow-cache'),
      import('@actions/languageservice/validate-action-reference'),
      import('@actions/workflow-parser'),
      import('@actions/workflow-parser/templates/tokens/template-token'),
      import('@actions/expressions'),
      import('vscode-languageserver-textdocument'),
      import('yaml')
    ])
  // The language service reports its own failures through its logger and then returns no
  // diagnostics: collect them, so that a crash cannot pass for a clean file.
  /** @type {string[]} */
  const failures = []
  const keep = (/** @type {string} */ message) => failures.push(message)
  const ignore = () => {}
  service.registerLogger({ error: keep, warn: ignore, info: ignore, log: ignore })
  return { service, cache, reference, parser, tokens, expressions, textDocument, yaml, failures }
}

/**
 * Whether a `uses:` value names this action.
 * @param {string} uses
 */
export function usesThisAction(uses) {
  return uses === './' || uses === '.' || new RegExp(`^[^/@]+/${ACTION_NAME}@.+$`).test(uses)
}

/**
 * The ```yaml (or ```yml) blocks of a Markdown text, each as a Source.
 * @param {string} file
 * @param {string} markdown
 * @returns {Source[]}
 */
export function markdownBlocks(file, markdown) {
  const lines = markdown.split(/\r?\n/)
  /** @type {Source[]} */
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```\s*ya?ml\s*$/i.exec(lines[i])
    if (!open) continue
    const indent = open[1].length
    const start = i + 1
    let end = start
    while (end < lines.length && !/^ *```\s*$/.test(lines[end])) end++
    const body = lines.slice(start, end).map((line) => line.slice(indent))
    i = end
    const firstLine = body.find((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    if (firstLine?.startsWith('-')) {
      blocks.push({
        file,
        kind: 'workflow',
        text: [...STEPS_HEADER, ...body.map((line) => STEPS_INDENT + line)].join('\n') + '\n',
        lineOffset: start - STEPS_HEADER.length,
        columnOffset: indent - STEPS_INDENT.length,
        firstLine: start + 1
      })
    } else {
      blocks.push({
        file,
        kind: 'workflow',
        text: body.join('\n') + '\n',
        lineOffset: start,
        columnOffset: indent,
        firstLine: start + 1
      })
    }
  }
  return blocks
}

/**
 * Every Source of a repository: action.yml, the workflows, the examples, the blocks of README.md
 * and of the docs/ pages.
 * @param {string} root
 * @returns {Source[]}
 */
export function collectSources(root) {
  /** @type {Source[]} */
  const sources = []
  /** @param {string} file @param {'action' | 'workflow'} kind */
  const whole = (file, kind) => ({
    file,
    kind,
    text: readFileSync(join(root, file), 'utf8'),
    lineOffset: 0,
    columnOffset: 0,
    firstLine: 1
  })
  sources.push(whole('action.yml', 'action'))
  for (const dir of ['.github/workflows', 'examples']) {
    if (!existsSync(join(root, dir))) continue
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (/\.ya?ml$/.test(name)) sources.push(whole(`${dir}/${name}`, 'workflow'))
    }
  }
  if (existsSync(join(root, 'README.md'))) {
    sources.push(...markdownBlocks('README.md', readFileSync(join(root, 'README.md'), 'utf8')))
  }
  if (existsSync(join(root, 'docs'))) {
    for (const name of readdirSync(join(root, 'docs')).sort()) {
      if (!name.endsWith('.md')) continue
      sources.push(
        ...markdownBlocks(`docs/${name}`, readFileSync(join(root, 'docs', name), 'utf8'))
      )
    }
  }
  return sources
}

/**
 * Validates a repository; resolves to its problems, in file order.
 * @param {string} root
 * @returns {Promise<Problem[]>}
 */
export async function validateRepository(root) {
  const lib = await loadLanguageService()
  const sources = collectSources(root)
  const actionText = sources[0].text
  /** @type {import('@actions/languageservice/action').ActionMetadata} */
  const metadata = lib.yaml.parse(actionText) ?? {}
  /** @type {Problem[]} */
  const problems = []
  for (const source of sources) {
    const found =
      source.kind === 'action'
        ? await validateAction(lib, source, metadata)
        : await validateWorkflow(lib, source, metadata)
    problems.push(...found)
  }
  problems.push(...checkEmbeddedExamples(sources))
  problems.push(...checkDescription(sources[0]))
  for (const source of sources) {
    if (source.file.startsWith('.github/workflows/')) {
      problems.push(...checkPinning(source), ...checkWriteJobs(lib, source))
    }
    if (source.kind === 'workflow') problems.push(...checkNode24(source))
    if (source.kind === 'workflow' && !source.file.startsWith('.github/')) {
      problems.push(...checkExample(lib, source))
    }
  }
  problems.push(...checkTestPortability(root), ...checkLayers(root))
  problems.push(...checkLinks(root), ...checkPlaceholders(root, process.env.GITHUB_REPOSITORY))
  return problems
}

/** Longest `description` the Marketplace's release form takes (it refuses 125 characters). */
const MAX_DESCRIPTION = 124

/**
 * action.yml's description must fit the Marketplace's release form, which no parser checks.
 * @param {Source} source action.yml
 * @returns {Problem[]}
 */
export function checkDescription(source) {
  const lines = source.text.split('\n')
  const index = lines.findIndex((line) => /^description:/.test(line))
  const value = /^description:\s*(['"]?)(.*)\1\s*$/.exec(lines[index] ?? '')?.[2] ?? ''
  if (value.length <= MAX_DESCRIPTION) return []
  return [
    {
      file: source.file,
      line: index + 1,
      column: 1,
      message: `The description has ${value.length} characters; the Marketplace takes at most ${MAX_DESCRIPTION}.`
    }
  ]
}

/**
 * The first major version of each action used here, in workflows, examples or README, that runs
 * on node24 (each one's action.yml and release notes); node20 actions are forced onto node24
 * with a warning, then refused. Dependabot does not look at examples/ or README.md: this does.
 */
const NODE24_FROM = {
  'actions/checkout': 5,
  'actions/setup-node': 5,
  'actions/upload-artifact': 6,
  'github/codeql-action': 4,
  'hashicorp/setup-terraform': 4
}

/**
 * Every action a workflow, an example or a README block uses (but this one) must be known to run
 * on node24 at the version it names (`@vN`, or `@<sha> # vN.x.y`).
 * @param {Source} source
 * @returns {Problem[]}
 */
export function checkNode24(source) {
  /** @type {Problem[]} */
  const problems = []
  source.text.split('\n').forEach((line, index) => {
    const uses = /^(\s*(?:-\s+)?uses:\s*)(['"]?)([^'"\s#@]+)@([^'"\s#]+)\2\s*(#.*)?$/.exec(line)
    if (!uses || uses[3].endsWith(`/${ACTION_NAME}`)) return
    const name = uses[3].split('/').slice(0, 2).join('/')
    const version = /^v(\d+)/.exec(uses[4])?.[1] ?? /^#\s*v(\d+)/.exec(uses[5] ?? '')?.[1]
    /** @type {number | undefined} */
    const from = NODE24_FROM[/** @type {keyof typeof NODE24_FROM} */ (name)]
    const message =
      from === undefined
        ? `'${name}' is not known to run on node24: check its action.yml (runs.using) and add it to NODE24_FROM in scripts/validate-workflows.mjs.`
        : version === undefined || Number(version) < from
          ? `'${name}@${uses[4]}' does not run on node24: use v${from} or later.`
          : ''
    if (message) {
      problems.push({
        file: source.file,
        line: source.lineOffset + index + 1,
        column: uses[1].length + 1 + source.columnOffset,
        message
      })
    }
  })
  return problems
}

/**
 * A job that can write (any `write` permission) runs no npm: install scripts and tests would run
 * with the job's token in reach, and a restored npm cache could come from another branch.
 * @param {Awaited<ReturnType<typeof loadLanguageService>>} lib
 * @param {Source} source
 * @returns {Problem[]}
 */
export function checkWriteJobs(lib, source) {
  /** @type {Record<string, any>} */
  const workflow = lib.yaml.parse(source.text) ?? {}
  /** @param {unknown} permissions */
  const writes = (permissions) =>
    permissions === 'write-all' ||
    (typeof permissions === 'object' &&
      permissions !== null &&
      // id-token: write lets a job ask for an OIDC token; it writes nothing.
      Object.entries(permissions).some(
        ([scope, level]) => scope !== 'id-token' && level === 'write'
      ))
  /** @type {Problem[]} */
  const problems = []
  for (const [id, job] of Object.entries(workflow.jobs ?? {})) {
    if (!writes(job?.permissions ?? workflow.permissions)) continue
    /** @type {Record<string, any>[]} */
    const steps = job?.steps ?? []
    const npm = steps.some(
      (step) =>
        /(^|[\s;&|(])(npm|npx)\s/.test(String(step.run ?? '')) ||
        String(step.with?.cache ?? '') === 'npm'
    )
    if (!npm) continue
    const line = source.text.split('\n').findIndex((l) => l === `  ${id}:`) + 1
    problems.push({
      file: source.file,
      line,
      column: 3,
      message: `Job '${id}' can write and runs npm (or restores its cache): run npm in a read-only job without persisted credentials, and publish in a job that runs no npm.`
    })
  }
  return problems
}

/** What only some systems have: /proc, /dev/, FIFOs, absolute POSIX paths. */
const POSIX_ONLY = /\/proc\/|\/dev\/|mkfifo|['"`]\/(home|etc|tmp|usr|var|opt|root|bin|w)\b/
/** A test declared to run where it can (__tests__/support/platform.js), or a line that says why it is portable. */
const GUARDED = /^\s*(linuxOnly|posixOnly)\(|process\.platform|\/\/ portable:/
const DECLARATION = /^\s*(it|test|linuxOnly|posixOnly|describe)(\.each\(.*\))?\(/

/**
 * The test suite runs on Windows and macOS runners too: every line of a test that uses what only
 * some systems have must sit in a test declared with linuxOnly or posixOnly (or say on the line,
 * `// portable:`, why it holds everywhere).
 * @param {string} root
 * @returns {Problem[]}
 */
export function checkTestPortability(root) {
  /** @type {Problem[]} */
  const problems = []
  // The checker's own test quotes what it looks for.
  const skip = new Set([join('__tests__', 'validate-workflows.test.ts')])
  for (const dir of ['__tests__', join('__tests__', 'support')]) {
    const full = join(root, dir)
    if (!existsSync(full)) continue
    for (const name of readdirSync(full).filter((f) => /\.(ts|js|mjs)$/.test(f))) {
      const file = join(dir, name)
      if (skip.has(file)) continue
      const lines = readFileSync(join(root, file), 'utf8').split('\n')
      lines.forEach((line, index) => {
        const hit = POSIX_ONLY.exec(line)
        if (!hit || /^\s*(\/\/|\/\*|\*)/.test(line)) return
        if (GUARDED.test(line) || GUARDED.test(lines[index - 1] ?? '')) return
        // The test the line belongs to: the line itself, or the nearest declaration above it
        // that it is indented under.
        const indent = (/** @type {string} */ text) => /^\s*/.exec(text)?.[0].length ?? 0
        let at = index
        if (!DECLARATION.test(line)) {
          do at--
          while (at >= 0 && !(DECLARATION.test(lines[at]) && indent(lines[at]) < indent(line)))
        }
        if (at >= 0 && GUARDED.test(lines[at])) return
        problems.push({
          file: file.split('\\').join('/'),
          line: index + 1,
          column: hit.index + 1,
          message: `'${hit[0]}' exists on some systems only: declare the test with linuxOnly or posixOnly (__tests__/support/platform.js), or build the path with node:path.`
        })
      })
      problems.push(...bareLineSplits(file.split('\\').join('/'), lines))
      if (file !== join('__tests__', 'support', 'certs.js')) {
        problems.push(...directOpenssl(file.split('\\').join('/'), lines))
      }
    }
  }
  return problems
}

/** openssl started by hand: `execFileSync('openssl'`, `spawn("openssl"`. */
const OPENSSL_CALL = /\b(?:execFileSync|execFile|spawnSync|spawn)\(\s*(['"`])openssl\1/

/**
 * openssl on Windows reads its arguments in the ANSI code page, losing a non-ASCII password,
 * unless OPENSSL_WIN32_UTF8 is set: the tests start it through runOpenssl, which sets it.
 * @param {string} file @param {string[]} lines
 * @returns {Problem[]}
 */
function directOpenssl(file, lines) {
  /** @type {Problem[]} */
  const problems = []
  lines.forEach((line, index) => {
    const hit = OPENSSL_CALL.exec(line)
    if (!hit || /^\s*(\/\/|\/\*|\*)/.test(line)) return
    problems.push({
      file,
      line: index + 1,
      column: hit.index + 1,
      message: `'${hit[0]}' starts openssl without OPENSSL_WIN32_UTF8, so on Windows it reads a non-ASCII argument in the ANSI code page: use runOpenssl (__tests__/support/certs.js).`
    })
  })
  return problems
}

/** A split on a bare LF: `.split('\n')` (any quotes) or `.split(/\n/)`. */
const BARE_LF_SPLIT = /\.split\(\s*(?:(['"`])\\n\1|\/\\n\/[a-z]*)\s*\)/
/** A receiver that is what a process printed: its stdout, stderr, log, or the text captured. */
const PROCESS_OUTPUT = /\b(stdout|stderr|log|printed|output)\b/i

/**
 * The expression a method is called on: `run.stdout.trimEnd()` in `const lines =
 * run.stdout.trimEnd()`. Read backwards to the first space, operator or unclosed bracket outside
 * brackets, so that `console.log(pem` gives `pem`, not the call it sits in.
 * @param {string} text what comes before `.split(`
 */
function receiverOf(text) {
  let depth = 0
  let at = text.length
  while (at > 0) {
    const ch = text[at - 1]
    if (ch === ')' || ch === ']') depth++
    else if (ch === '(' || ch === '[') {
      if (depth === 0) break
      depth--
    } else if (depth === 0 && /[\s=,;{}:?!&|+]/.test(ch)) break
    at--
  }
  return text.slice(at)
}

/**
 * A test that splits what a process printed on a bare LF holds on Linux and macOS only:
 * @actions/core writes os.EOL, CRLF on Windows, and the runner splits lines on CR, LF or CRLF.
 * Flagged: `.split('\n')` whose receiver (on its line, or the lines a chain continues from) names
 * stdout, stderr, a log, printed text or output. Text the test built itself (a PEM, a file's
 * content) may be split on '\n'.
 * @param {string} file
 * @param {string[]} lines
 * @returns {Problem[]}
 */
function bareLineSplits(file, lines) {
  /** @type {Problem[]} */
  const problems = []
  lines.forEach((line, index) => {
    const hit = BARE_LF_SPLIT.exec(line)
    if (!hit || /^\s*(\/\/|\/\*|\*)/.test(line)) return
    let before = line.slice(0, hit.index)
    // A chain continued on this line (`.split('\n')` under `run.stdout`): its start is above.
    for (let at = index - 1; !before.trim() || /^\s*\./.test(lines[at + 1]); at--) {
      if (at < 0 || index - at > 5) break
      before = lines[at].trim() + before.trim()
      if (!/^\s*\./.test(lines[at])) break
    }
    if (!PROCESS_OUTPUT.test(receiverOf(before.trimEnd()))) return
    problems.push({
      file,
      line: index + 1,
      column: hit.index + 1,
      message: `'${hit[0]}' splits a process's output on a bare LF, but @actions/core writes os.EOL (CRLF on Windows): split on /\\r?\\n/ as the runner reads lines.`
    })
  })
  return problems
}

/**
 * This repository's own workflows: `permissions:` at the top (least privilege, widened per job),
 * and every action from another repository pinned by full commit SHA with its version beside it
 * (`owner/repo@<40 hex> # vX.Y.Z`), so that a moved tag cannot change what runs.
 * @param {Source} source
 * @returns {Problem[]}
 */
export function checkPinning(source) {
  /** @type {Problem[]} */
  const problems = []
  const lines = source.text.split('\n')
  if (!lines.some((line) => /^permissions:/.test(line))) {
    problems.push({
      file: source.file,
      line: 1,
      column: 1,
      message: "No top-level 'permissions:': start from 'contents: read' and widen per job."
    })
  }
  lines.forEach((line, index) => {
    const uses = /^(\s*(?:-\s+)?uses:\s*)(['"]?)([^'"\s#]+)\2\s*(#.*)?$/.exec(line)
    if (!uses || uses[3].startsWith('./') || uses[3].startsWith('docker://')) return
    const pinned = /@[0-9a-f]{40}$/.test(uses[3]) && /^#\s*v\d+\.\d+\.\d+\b/.test(uses[4] ?? '')
    if (pinned) return
    problems.push({
      file: source.file,
      line: index + 1,
      column: uses[1].length + 1,
      message: `'${uses[3]}' is not pinned: use its full commit SHA and the version as a comment (@<sha> # vX.Y.Z).`
    })
  })
  return problems
}

/**
 * Each file under examples/ is also shown to users, in README.md or a docs/ page: every example
 * must be one of their blocks, byte for byte, so the two never drift apart.
 * @param {Source[]} sources
 * @returns {Problem[]}
 */
export function checkEmbeddedExamples(sources) {
  const pages = (/** @type {string} */ file) => file === 'README.md' || file.startsWith('docs/')
  const blocks = new Set(sources.filter((s) => pages(s.file)).map((s) => s.text))
  if (blocks.size === 0) return []
  return sources
    .filter((s) => s.file.startsWith('examples/'))
    .filter((s) => !blocks.has(s.text.replace(/\r\n/g, '\n')))
    .map((s) => ({
      file: s.file,
      line: 1,
      column: 1,
      message:
        'Neither README.md nor a docs/ page has a copy of this example: paste the file as a ```yaml block.'
    }))
}

/**
 * @param {Awaited<ReturnType<typeof loadLanguageService>>} lib
 * @param {Source} source
 * @param {Record<string, any>} metadata
 * @returns {Promise<Problem[]>}
 */
async function validateAction(lib, source, metadata) {
  const problems = await runLanguageService(lib, source, metadata)
  const lineCounter = new lib.yaml.LineCounter()
  const document = lib.yaml.parseDocument(source.text, { lineCounter })
  /** @param {unknown[]} path @param {string} message */
  const at = (path, message) => {
    const node = /** @type {any} */ (document.getIn(path, true) ?? document.contents)
    const position = lineCounter.linePos(node?.range?.[0] ?? 0)
    problems.push({ file: source.file, line: position.line, column: position.col, message })
  }
  // The schema checks the required keys and the allowed values (branding icons and colours,
  // runtimes); this action's runtime is one of them.
  if (lib.yaml.isMap(document.contents)) {
    const using = document.getIn(['runs', 'using'])
    if (document.hasIn(['runs']) && using !== RUNTIME) {
      at(['runs', 'using'], `runs.using is '${String(using)}': this action runs on '${RUNTIME}'.`)
    }
  }
  return problems
}

/**
 * @param {Awaited<ReturnType<typeof loadLanguageService>>} lib
 * @param {Source} source
 * @param {Record<string, any>} metadata
 * @returns {Promise<Problem[]>}
 */
async function validateWorkflow(lib, source, metadata) {
  const problems = await runLanguageService(lib, source, metadata)
  // The language service checks `with:` only for `owner/name@ref`; a local `./` step is checked
  // here with its own code, against action.yml.
  const uri = sourceUri(source)
  const parsed = lib.cache.getOrParseWorkflow({ name: uri, content: source.text }, uri)
  /** @type {import('vscode-languageserver-types').Diagnostic[]} */
  const diagnostics = []
  const config = metadataConfig(metadata)
  if (parsed?.value) {
    for (const [, token] of lib.tokens.TemplateToken.traverse(parsed.value)) {
      if (token.definition?.key !== 'regular-step' || !lib.parser.isMapping(token)) continue
      const uses = [...token].find(({ key }) => key.toString() === 'uses')?.value
      if (!uses || !uses.range || String(uses.toString()).trim() !== './') continue
      // The same check under this action's published name; it reads only `uses` from the step.
      const step = /** @type {any} */ ({
        uses: { value: `self/${ACTION_NAME}@local`, range: uses.range }
      })
      await lib.reference.validateActionReference(diagnostics, token, step, config)
    }
  }
  problems.push(...diagnostics.map((d) => toProblem(source, d)))
  return sortProblems(problems)
}

/** @param {Source} source */
function sourceUri(source) {
  const base = source.kind === 'action' ? 'action.yml' : source.file.replace(/\.md$/, '.md.yml')
  return pathToFileURL(resolve('/repository', base)).href
}

/**
 * Metadata for `uses:` steps: this action's action.yml for this action; for any other action
 * (no network here) a stand-in without inputs, which the language service does not check.
 * @param {Record<string, any>} metadata
 * @returns {import('@actions/languageservice').ValidationConfig}
 */
function metadataConfig(metadata) {
  return {
    actionsMetadataProvider: {
      fetchActionMetadata: async (reference) =>
        reference.name === ACTION_NAME
          ? /** @type {any} */ (metadata)
          : { name: reference.name, description: '' }
    }
  }
}

/**
 * @param {Awaited<ReturnType<typeof loadLanguageService>>} lib
 * @param {Source} source
 * @param {Record<string, any>} metadata
 * @returns {Promise<Problem[]>}
 */
async function runLanguageService(lib, source, metadata) {
  const uri = sourceUri(source)
  lib.cache.clearCacheEntry(uri)
  const document = lib.textDocument.TextDocument.create(uri, 'yaml', 1, source.text)
  const outputs = Object.entries(metadata.outputs ?? {})
  const diagnostics = await lib.service.validate(document, {
    ...metadataConfig(metadata),
    contextProviderConfig: {
      // As the VS Code extension does for actions it can fetch, but complete: this action has
      // exactly the outputs action.yml declares, so any other name is an error.
      getContext: async (name, defaultContext, workflowContext) => {
        if (name !== 'steps' || !defaultContext || !workflowContext.job?.steps) return undefined
        const { DescriptionDictionary, data } = lib.expressions
        const steps = new DescriptionDictionary()
        for (const { key, value, description } of defaultContext.pairs()) {
          const step = workflowContext.job.steps.find((s) => s.id === key)
          const uses = step && 'uses' in step ? step.uses.value : ''
          if (!usesThisAction(uses) || !(value instanceof DescriptionDictionary)) {
            steps.add(key, value, description)
            continue
          }
          const known = new DescriptionDictionary()
          for (const [output, { description: text }] of outputs) {
            known.add(output, new data.StringData(String(text ?? '')), String(text ?? ''))
          }
          const stepContext = new DescriptionDictionary()
          for (const pair of value.pairs()) {
            if (pair.key === 'outputs') stepContext.add('outputs', known, pair.description)
            else stepContext.add(pair.key, pair.value, pair.description)
          }
          steps.add(key, stepContext, description)
        }
        return steps
      }
    }
  })
  const problems = diagnostics.map((d) => toProblem(source, d))
  for (const failure of lib.failures.splice(0)) {
    problems.push({ file: source.file, line: source.firstLine, column: 1, message: failure })
  }
  return sortProblems(problems)
}

/**
 * @param {Source} source
 * @param {import('vscode-languageserver-types').Diagnostic} diagnostic
 * @returns {Problem}
 */
function toProblem(source, diagnostic) {
  const { line, character } = diagnostic.range.start
  const text =
    typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value
  return {
    file: source.file,
    line: source.lineOffset + line + 1,
    column: Math.max(1, source.columnOffset + character + 1),
    // YAML errors name a line in the text as validated, and quote it: keep the first sentence.
    message: text.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
  }
}

/** @param {Problem[]} problems */
function sortProblems(problems) {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column)
}

/** Escapes a GitHub workflow command's property or message. @param {string} text */
function escapeCommand(text) {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

async function main() {
  const root = resolve(process.argv[2] ?? '.')
  const problems = await validateRepository(root)
  const sources = collectSources(root)
  for (const p of problems) {
    const where = `${p.file}:${p.line}:${p.column}`
    console.log(`${where}: ${p.message}`)
    if (process.env.GITHUB_ACTIONS === 'true') {
      const file = escapeCommand(p.file).replace(/[:,]/g, (c) => (c === ':' ? '%3A' : '%2C'))
      console.log(
        `::error file=${file},line=${p.line},col=${p.column}::${escapeCommand(p.message)}`
      )
    }
  }
  const checked = `${sources.length} documents (${relative(process.cwd(), root) || '.'})`
  if (problems.length > 0) {
    console.log(`Workflow validation: ${problems.length} problem(s) in ${checked}.`)
    process.exitCode = 1
  } else {
    console.log(`Workflow validation: no problems in ${checked}.`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
