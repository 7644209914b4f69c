// scripts/validate-workflows.mjs, run as CI runs it (`node scripts/validate-workflows.mjs ROOT`)
// on small repositories made here: each mistake fails the run with its file, line and column.
import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseFileCommand, ROOT, spawnNode } from './support/run-action.js'

const SCRIPT = join(ROOT, 'scripts', 'validate-workflows.mjs')
const ACTION_YML = readFileSync(join(ROOT, 'action.yml'), 'utf8')
const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

/** A repository with this action.yml (unless replaced) and the given files. */
function makeRepository(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'validate-'))
  dirs.push(dir)
  for (const [path, text] of Object.entries({ 'action.yml': ACTION_YML, ...files })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

/** Runs the validator on `dir`; the printed lines, the summary line left out. */
async function validate(dir: string) {
  const run = await spawnNode([SCRIPT, dir], { PATH: process.env.PATH }, 60_000)
  const lines = run.stdout.trimEnd().split(/\r?\n/)
  return { code: run.code, problems: lines.slice(0, -1), summary: lines.at(-1), stderr: run.stderr }
}

const STEP = `- id: graph
  uses: OWNER/certificate-token-action@v1
  with:
    client-id: \${{ vars.AZURE_CLIENT_ID }}
    tenant-id: \${{ vars.AZURE_TENANT_ID }}
    certificate: \${{ secrets.AZURE_CLIENT_CERTIFICATE }}
    scope: https://graph.microsoft.com/.default
`

/** A whole workflow whose one job runs `steps` (YAML list, indented here). */
function workflow(steps: string): string {
  const indented = steps.replace(/^(?=.)/gm, '      ')
  return `name: Example\non: workflow_dispatch\npermissions:\n  contents: read\n\njobs:\n  example:\n    runs-on: ubuntu-latest\n    steps:\n${indented}`
}

describe('validate-workflows', () => {
  it('passes this repository as it is committed', async () => {
    const run = await validate(ROOT)
    expect(run).toMatchObject({ code: 0, problems: [] })
    expect(run.summary).toMatch(/^Workflow validation: no problems in \d+ documents/)
  })

  it('passes a README whose blocks are a list of steps and a whole workflow', async () => {
    const readme = `# Title\n\n\`\`\`yaml\n${STEP}- run: 'curl -H "Authorization: Bearer $TOKEN" https://example.com'\n  env:\n    TOKEN: \${{ steps.graph.outputs.access-token }}\n\`\`\`\n\n\`\`\`yaml\n${workflow(STEP)}\`\`\`\n`
    const run = await validate(makeRepository({ 'README.md': readme }))
    expect(run).toMatchObject({ code: 0, problems: [] })
  })

  it('fails a README block that does not load, at its line in README.md', async () => {
    const readme = `# Title\n\nSome text.\n\n\`\`\`yaml\n${STEP}- run: curl -H "Authorization: Bearer $TOKEN" https://example.com\n\`\`\`\n`
    const run = await validate(makeRepository({ 'README.md': readme }))
    expect(run.code).toBe(1)
    expect(run.problems).toEqual([
      'README.md:13:8: Nested mappings are not allowed in compact mappings'
    ])
    expect(run.summary).toMatch(/^Workflow validation: 1 problem\(s\) in 2 documents /)
  })

  it('fails an example with a with: key that action.yml does not declare', async () => {
    const steps = STEP.replace('    scope:', '    client-secret: ${{ secrets.SECRET }}\n    scope:')
    const run = await validate(makeRepository({ 'examples/secret.yml': workflow(steps) }))
    expect(run.code).toBe(1)
    expect(run.problems).toEqual([
      "examples/secret.yml:16:11: Invalid action input 'client-secret'"
    ])
  })

  it('fails a step of this action without a required input', async () => {
    const steps = STEP.replace(/ {4}client-id: .*\n/, '')
    const run = await validate(makeRepository({ 'examples/missing.yml': workflow(steps) }))
    expect(run.problems).toEqual(['examples/missing.yml:12:9: Missing required input `client-id`'])
  })

  it('fails steps.<id>.outputs.<name> when the action has no such output', async () => {
    const steps = `${STEP}- run: echo "$TOKEN"\n  env:\n    TOKEN: \${{ steps.graph.outputs.access_token }}\n`
    const run = await validate(makeRepository({ 'examples/outputs.yml': workflow(steps) }))
    expect(run.code).toBe(1)
    expect(run.problems).toEqual([
      'examples/outputs.yml:19:18: Context access might be invalid: access_token'
    ])
  })

  it('checks a local `uses: ./` step against action.yml too', async () => {
    const steps = `- id: local\n  uses: ./\n  with:\n    scope: api://test-resource/.default\n    tenant: x\n- run: echo \${{ steps.local.outputs.token }}\n`
    const run = await validate(makeRepository({ '.github/workflows/self.yml': workflow(steps) }))
    expect(run.problems).toEqual([
      '.github/workflows/self.yml:12:9: Missing required input `client-id`',
      ".github/workflows/self.yml:14:11: Invalid action input 'tenant'",
      '.github/workflows/self.yml:15:19: Context access might be invalid: token'
    ])
  })

  it('fails a workflow of the repository without permissions or with an action not pinned', async () => {
    const text = workflow(
      '- uses: actions/checkout@v5\n' +
        '- uses: actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38\n' +
        '- uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0\n'
    ).replace('permissions:\n  contents: read\n', '')
    const run = await validate(makeRepository({ '.github/workflows/build.yml': text }))
    expect(run.problems).toEqual([
      ".github/workflows/build.yml:1:1: No top-level 'permissions:': start from 'contents: read' and widen per job.",
      ".github/workflows/build.yml:8:15: 'actions/checkout@v5' is not pinned: use its full commit SHA and the version as a comment (@<sha> # vX.Y.Z).",
      ".github/workflows/build.yml:9:15: 'actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38' is not pinned: use its full commit SHA and the version as a comment (@<sha> # vX.Y.Z).",
      ".github/workflows/build.yml:9:15: 'actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38' does not run on node24: use v5 or later."
    ])
  })

  it('fails a branding icon that Marketplace does not allow', async () => {
    const action = ACTION_YML.replace(/icon: '[^']*'/, "icon: 'key'")
    const line = action.split('\n').findIndex((l) => l.includes("icon: 'key'")) + 1
    const run = await validate(makeRepository({ 'action.yml': action }))
    expect(run.code).toBe(1)
    expect(run.problems).toEqual([`action.yml:${line}:9: Unexpected value 'key'`])
  })

  it('fails a runtime other than node24', async () => {
    const action = ACTION_YML.replace(/using: '[^']*'/, "using: 'node20'")
    const line = action.split('\n').findIndex((l) => l.includes("using: 'node20'")) + 1
    const run = await validate(makeRepository({ 'action.yml': action }))
    expect(run.problems).toEqual([
      `action.yml:${line}:10: runs.using is 'node20': this action runs on 'node24'.`
    ])
  })

  it('fails an example that README.md does not embed word for word', async () => {
    const example = workflow(STEP)
    const readme = `# Title\n\n\`\`\`yaml\n${example.replace('Example', 'Changed')}\`\`\`\n`
    const run = await validate(
      makeRepository({ 'README.md': readme, 'examples/graph.yml': example })
    )
    expect(run.problems).toEqual([
      'examples/graph.yml:1:1: README.md has no copy of this example: paste the file as a ```yaml block.'
    ])
  })

  it('fails a description the Marketplace would refuse (125 characters or more)', async () => {
    const long = 'x'.repeat(125)
    const action = ACTION_YML.replace(/^description: .*$/m, `description: '${long}'`)
    const run = await validate(makeRepository({ 'action.yml': action }))
    expect(run.problems).toEqual([
      'action.yml:2:1: The description has 125 characters; the Marketplace takes at most 124.'
    ])
  })

  it('fails an action version that does not run on node24, and an action not known to', async () => {
    const text = workflow(
      '- uses: actions/checkout@v4\n' +
        '- uses: hashicorp/setup-terraform@v3\n' +
        '- uses: someone/unknown-action@v9\n' +
        '- uses: actions/checkout@v5\n'
    )
    const run = await validate(
      makeRepository({ 'examples/terraform.yml': text, 'README.md': `\`\`\`yaml\n${text}\`\`\`\n` })
    )
    expect(run.problems).toEqual([
      "examples/terraform.yml:10:15: 'actions/checkout@v4' does not run on node24: use v5 or later.",
      "examples/terraform.yml:11:15: 'hashicorp/setup-terraform@v3' does not run on node24: use v4 or later.",
      "examples/terraform.yml:12:15: 'someone/unknown-action' is not known to run on node24: check its action.yml (runs.using) and add it to NODE24_FROM in scripts/validate-workflows.mjs.",
      "README.md:11:15: 'actions/checkout@v4' does not run on node24: use v5 or later.",
      "README.md:12:15: 'hashicorp/setup-terraform@v3' does not run on node24: use v4 or later.",
      "README.md:13:15: 'someone/unknown-action' is not known to run on node24: check its action.yml (runs.using) and add it to NODE24_FROM in scripts/validate-workflows.mjs."
    ])
  })

  it('fails a job that can write and runs npm', async () => {
    const text = workflow(
      '- uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n' +
        '- run: npm ci\n'
    ).replace(
      '    runs-on: ubuntu-latest\n',
      '    runs-on: ubuntu-latest\n    permissions:\n      contents: write\n'
    )
    const run = await validate(makeRepository({ '.github/workflows/release.yml': text }))
    expect(run.problems).toEqual([
      ".github/workflows/release.yml:7:3: Job 'example' can write and runs npm (or restores its cache): run npm in a read-only job without persisted credentials, and publish in a job that runs no npm."
    ])
  })

  it('fails a test that reads /proc or makes a FIFO outside a platform guard, and passes a guarded one', async () => {
    // The test file, kept as a fixture: its lines would be checked here themselves.
    const test = readFileSync(
      join(ROOT, '__tests__', 'fixtures', 'portability', 'files.test.ts.txt'),
      'utf8'
    )
    const run = await validate(makeRepository({ '__tests__/files.test.ts': test }))
    expect(run.problems).toEqual([
      "__tests__/files.test.ts:1:39: '/proc/' exists on some systems only: declare the test with linuxOnly or posixOnly (__tests__/support/platform.js), or build the path with node:path.",
      "__tests__/files.test.ts:6:17: 'mkfifo' exists on some systems only: declare the test with linuxOnly or posixOnly (__tests__/support/platform.js), or build the path with node:path.",
      "__tests__/files.test.ts:11:14: ''/home' exists on some systems only: declare the test with linuxOnly or posixOnly (__tests__/support/platform.js), or build the path with node:path."
    ])
  })
  it("fails a test that splits a process's output on a bare LF, and passes text it built or /\\r?\\n/", async () => {
    const test = readFileSync(
      join(ROOT, '__tests__', 'fixtures', 'portability', 'splits.test.ts.txt'),
      'utf8'
    )
    const run = await validate(makeRepository({ '__tests__/splits.test.ts': test }))
    const message =
      "splits a process's output on a bare LF, but @actions/core writes os.EOL (CRLF on Windows): split on /\\r?\\n/ as the runner reads lines."
    expect(run.problems).toEqual([
      `__tests__/splits.test.ts:1:25: '.split('\\n')' ${message}`,
      `__tests__/splits.test.ts:4:3: '.split("\\n")' ${message}`,
      `__tests__/splits.test.ts:5:15: '.split(/\\n/)' ${message}`,
      `__tests__/splits.test.ts:8:55: '.split(\`\\n\`)' ${message}`
    ])
  })

  it("fails an import from a lower room up to a higher one, or past a room's doors", async () => {
    const run = await validate(
      makeRepository({
        'src/settings.ts': 'export type Algorithm = string\n',
        'src/action/inputs.ts': "import type { Algorithm } from '../settings.js'\n",
        'src/oauth/answer.ts': 'export const x = 1\n',
        'src/keys/credential.ts':
          "import type { Algorithm } from '../settings.js'\nimport { readSettings } from '../action/inputs.js'\n",
        'src/service/tokens.ts': "export const y = await import('../oauth/answer.js')\n"
      })
    )
    expect(run.problems).toEqual([
      'src/keys/credential.ts:2:31: src/keys/credential.ts (src/keys/) imports src/action/inputs.ts, a higher room (src/action/): move what both need down, e.g. into src/settings.ts.',
      'src/service/tokens.ts:1:32: src/service/tokens.ts imports src/oauth/answer.ts, inside src/oauth/: use its doors (src/oauth/assertion.ts, src/oauth/token.ts, src/oauth/retry.ts), or make answer.ts one in scripts/check-layers.mjs if it is meant for other rooms.'
    ])
  })
})

describe('file commands written with CRLF (os.EOL on Windows)', () => {
  it('are read by the tests as with LF', () => {
    const text =
      'access-token<<ghadelimiter_1\r\nabc\r\nghadelimiter_1\r\nexpires-in<<ghadelimiter_2\r\n3599\r\nghadelimiter_2\r\n'
    expect(parseFileCommand(text)).toEqual({ 'access-token': 'abc', 'expires-in': '3599' })
    expect(parseFileCommand(text.replace(/\r\n/g, '\n'))).toEqual(parseFileCommand(text))
  })
})
