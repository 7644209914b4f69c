// Names the published repository where the pages say OWNER: the badges and `uses:` lines of
// README.md, docs/ and examples/ (OWNER/certificate-token-action) and CODEOWNERS (* @OWNER).
// Run once at publication (CONTRIBUTING.md, Releasing); `npm run validate` on a runner then
// refuses any OWNER left (scripts/check-docs.mjs, checkPlaceholders).
//
// Usage: node scripts/publish.mjs owner/name [repository root]
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { placeholderFiles } from './check-docs.mjs'

const [repository = '', rootArgument = '.'] = process.argv.slice(2)
const match = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(repository)
if (!match) {
  console.error('Usage: node scripts/publish.mjs owner/name [repository root]')
  process.exit(1)
}
const [, owner, name] = match
const root = resolve(rootArgument)
for (const file of placeholderFiles(root)) {
  const before = readFileSync(join(root, file), 'utf8')
  const after = before
    .replace(/\bOWNER\/certificate-token-action\b/g, `${owner}/${name}`)
    .replace(/@OWNER\b/g, `@${owner}`)
  if (after !== before) {
    writeFileSync(join(root, file), after)
    console.log(`${file}: OWNER -> ${owner}`)
  }
}
