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
  return `name: Example\non: workflow_dispatch\npermissions:\n  contents: read\n\njobs:\n  example:\n    runs-on: ubuntu-latest\n    steps:\n${indented}    timeout-minutes: 10\n`
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
      'examples/graph.yml:1:1: Neither README.md nor a docs/ page has a copy of this example: paste the file as a ```yaml block.'
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

  it('fails a test that starts openssl without runOpenssl, which makes it read UTF-8 on Windows', async () => {
    const test = readFileSync(
      join(ROOT, '__tests__', 'fixtures', 'portability', 'openssl.test.ts.txt'),
      'utf8'
    )
    const run = await validate(makeRepository({ '__tests__/openssl.test.ts': test }))
    const message = (call: string) =>
      `'${call}' starts openssl without OPENSSL_WIN32_UTF8, so on Windows it reads a non-ASCII argument in the ANSI code page: use runOpenssl (__tests__/support/certs.js).`
    expect(run.problems).toEqual([
      `__tests__/openssl.test.ts:1:13: ${message("execFileSync('openssl'")}`,
      `__tests__/openssl.test.ts:4:1: ${message('spawn("openssl"')}`
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

/** Runs the validator with extra environment variables (GITHUB_REPOSITORY). */
async function validateWith(dir: string, env: Record<string, string>) {
  const run = await spawnNode([SCRIPT, dir], { PATH: process.env.PATH, ...env }, 60_000)
  const lines = run.stdout.trimEnd().split(/\r?\n/)
  return { code: run.code, problems: lines.slice(0, -1) }
}

/** A whole workflow with a job that says what it may do and for how long. */
function job(
  steps: string,
  head = 'on: workflow_dispatch\npermissions:\n  contents: read\n'
): string {
  const body = steps.replace(/^(?=.)/gm, '      ')
  return `${head}jobs:\n  work:\n    runs-on: ubuntu-latest\n    timeout-minutes: 10\n    steps:\n${body}`
}

describe('the pages users read and the workflows they copy', () => {
  it('accepts relative links and anchors that resolve, GitHub slugs included', async () => {
    const dir = makeRepository({
      'README.md':
        '# Title\n\n## Fresh tokens (`identity-endpoint`)\n\n## Fresh tokens (`identity-endpoint`)\n\nSee [it](#fresh-tokens-identity-endpoint), [again](#fresh-tokens-identity-endpoint-1), [PFX](docs/pfx.md#pfx--pkcs12), [site](https://example.com/#x).\n\n```md\n[in code](#nowhere)\n```\n',
      'docs/pfx.md': '# PFX / PKCS#12\n\nBack to the [README](../README.md#title).\n'
    })
    const run = await validate(dir)
    expect(run.problems).toEqual([])
    expect(run.code).toBe(0)
  })

  it('reports a link to a missing file and an anchor that names no heading', async () => {
    const dir = makeRepository({
      'README.md': '# Title\n\n[gone](docs/gone.md) and [no](#nothing-here).\n',
      'docs/tools.md': '# Tools\n\n[README](../README.md#titel)\n',
      'CONTRIBUTING.md': '# Contributing\n\n[PFX](README.md#pfx--pkcs12)\n'
    })
    const run = await validate(dir)
    expect(run.problems).toEqual([
      "README.md:3:8: The link 'docs/gone.md' names no file of the repository.",
      "README.md:3:31: The link '#nothing-here' names no heading of README.md: GitHub's anchor is the heading in lower case, punctuation dropped, spaces as hyphens.",
      "CONTRIBUTING.md:3:7: The link 'README.md#pfx--pkcs12' names no heading of README.md: GitHub's anchor is the heading in lower case, punctuation dropped, spaces as hyphens.",
      "docs/tools.md:3:10: The link '../README.md#titel' names no heading of README.md: GitHub's anchor is the heading in lower case, punctuation dropped, spaces as hyphens."
    ])
    expect(run.code).toBe(1)
  })

  it('takes an example copied into a docs/ page, and validates the YAML blocks there', async () => {
    const example = job(STEP)
    const dir = makeRepository({
      'examples/graph.yml': example,
      'README.md': '# Title\n',
      'docs/examples.md': `# Examples\n\n\`\`\`yaml\n${example}\`\`\`\n\n\`\`\`yaml\n- uses: OWNER/certificate-token-action@v1\n  with:\n    scope: x\n\`\`\`\n`
    })
    const run = await validate(dir)
    expect(run.problems).toEqual(['docs/examples.md:23:3: Missing required input `client-id`'])
  })

  it('reports an example that neither README.md nor a docs/ page shows', async () => {
    const dir = makeRepository({
      'examples/graph.yml': job(STEP),
      'README.md': `# Title\n\n\`\`\`yaml\n${STEP}\`\`\`\n`
    })
    const run = await validate(dir)
    expect(run.problems).toEqual([
      'examples/graph.yml:1:1: Neither README.md nor a docs/ page has a copy of this example: paste the file as a ```yaml block.'
    ])
  })

  it('reports a job without permissions, timeout-minutes, or concurrency when it deploys on push', async () => {
    const text =
      'on:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: hashicorp/setup-terraform@v4\n      - run: terraform apply -auto-approve\n'
    const run = await validate(makeRepository({ 'examples/deploy.yml': text }))
    expect(run.problems).toEqual([
      "examples/deploy.yml:5:1: Job 'deploy' has no permissions: give it the least it needs (contents: read; id-token: write for federation).",
      "examples/deploy.yml:5:1: Job 'deploy' has no timeout-minutes: a hung step would hold the runner for 6 hours (360 minutes).",
      "examples/deploy.yml:5:1: Job 'deploy' deploys on push without concurrency: two pushes would apply at once."
    ])
  })

  it('reports tools a step calls that ubuntu-latest does not have as written', async () => {
    const steps =
      '- run: terraform init\n- shell: pwsh\n  run: Connect-AzAccount -Identity\n- run: pip install azure-identity\n- run: make build\n'
    const run = await validate(makeRepository({ 'examples/tools.yml': job(steps) }))
    expect(run.problems).toEqual([
      'examples/tools.yml:9:1: This step runs terraform, which is not on ubuntu-24.04: add a hashicorp/setup-terraform step before it.',
      "examples/tools.yml:11:1: Connect-AzAccount needs the Az modules, which the Ubuntu images keep off PSModulePath: install Az.Accounts first when 'Get-Module -ListAvailable Az.Accounts' finds none, as examples/azure-powershell.yml does.",
      'examples/tools.yml:12:1: pip install into the system Python is refused on Ubuntu 24.04 (PEP 668): create a venv first (python3 -m venv).',
      "examples/tools.yml:13:1: This step runs make on the repository's files: add an actions/checkout step before it."
    ])
  })

  it('accepts the same tools once each is installed or guarded', async () => {
    const steps =
      '- uses: actions/checkout@v5\n- uses: hashicorp/setup-terraform@v4\n- run: terraform init\n- shell: pwsh\n  run: |\n    if (-not (Get-Module -ListAvailable Az.Accounts)) { Install-Module Az.Accounts -Force }\n    Connect-AzAccount -Identity\n- run: |\n    python3 -m venv .venv\n    .venv/bin/pip install azure-identity\n- run: make build\n'
    const run = await validate(makeRepository({ 'examples/tools.yml': job(steps) }))
    expect(run.problems).toEqual([])
    expect(run.code).toBe(0)
  })

  it('reports OWNER placeholders once GITHUB_REPOSITORY names the repository, not before', async () => {
    const dir = makeRepository({
      'README.md': `# Title\n\n[![CI](https://github.com/OWNER/certificate-token-action/actions/workflows/ci.yml/badge.svg)](https://github.com/OWNER/certificate-token-action)\n\nsubject repo:OWNER/REPO:ref:refs/heads/main\n`,
      '.github/CODEOWNERS': '# owners\n* @OWNER\n'
    })
    expect((await validateWith(dir, {})).problems).toEqual([])
    const published = await validateWith(dir, {
      GITHUB_REPOSITORY: 'contoso/certificate-token-action'
    })
    expect(published.problems).toEqual([
      "README.md:3:27: OWNER is still a placeholder in contoso/certificate-token-action: run 'node scripts/publish.mjs contoso/certificate-token-action' (CONTRIBUTING.md, Releasing).",
      ".github/CODEOWNERS:2:3: OWNER is still a placeholder in contoso/certificate-token-action: run 'node scripts/publish.mjs contoso/certificate-token-action' (CONTRIBUTING.md, Releasing)."
    ])
    expect(published.code).toBe(1)
  })

  it('publish.mjs names the repository where the pages say OWNER, and validate is then clean', async () => {
    const dir = makeRepository({
      'README.md':
        '# Title\n\n[![CI](https://github.com/OWNER/certificate-token-action/actions/workflows/ci.yml/badge.svg)](https://github.com/OWNER/certificate-token-action)\n',
      '.github/CODEOWNERS': '* @OWNER\n'
    })
    const publish = await spawnNode(
      [join(ROOT, 'scripts', 'publish.mjs'), 'contoso/token-action', dir],
      { PATH: process.env.PATH },
      30_000
    )
    expect(publish.code).toBe(0)
    expect(readFileSync(join(dir, '.github', 'CODEOWNERS'), 'utf8')).toBe('* @contoso\n')
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(
      '(https://github.com/contoso/token-action)'
    )
    const run = await validateWith(dir, { GITHUB_REPOSITORY: 'contoso/token-action' })
    expect(run.problems).toEqual([])
  })
})
