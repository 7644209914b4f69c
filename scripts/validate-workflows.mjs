// Checks what users copy and what GitHub loads with GitHub's own parsers (@actions/languageservice,
// the engine of the GitHub Actions extension for VS Code, on @actions/workflow-parser's schemas):
// action.yml against the action metadata schema; every workflow under .github/workflows/ and
// examples/ and every ```yaml block of README.md as a workflow (a block that is a list of steps is
// checked as the steps of a job). A step that uses this action (`./`, or
// `OWNER/certificate-token-action@REF`) may only pass inputs that action.yml declares, must pass
// the required ones, and `steps.<id>.outputs.<name>` must name one of its outputs. Each example
// must be in README.md word for word; the repository's own workflows must set `permissions:` and
// pin other repositories' actions by commit SHA.
//
// Usage: node scripts/validate-workflows.mjs [repository root]. Prints `file:line:column: message`
// for each problem (and a GitHub annotation on a runner) and exits 1 if there is any.
import { register } from 'node:module'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

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
 * Every Source of a repository: action.yml, the workflows, the examples, README.md's blocks.
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
  for (const source of sources) {
    if (source.file.startsWith('.github/workflows/')) problems.push(...checkPinning(source))
  }
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
 * README.md says each of its workflows is also a file under examples/: every example must be
 * one of README.md's blocks, byte for byte, so the two never drift apart.
 * @param {Source[]} sources
 * @returns {Problem[]}
 */
export function checkEmbeddedExamples(sources) {
  const blocks = new Set(sources.filter((s) => s.file === 'README.md').map((s) => s.text))
  if (blocks.size === 0) return []
  return sources
    .filter((s) => s.file.startsWith('examples/'))
    .filter((s) => !blocks.has(s.text.replace(/\r\n/g, '\n')))
    .map((s) => ({
      file: s.file,
      line: 1,
      column: 1,
      message: 'README.md has no copy of this example: paste the file as a ```yaml block.'
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
