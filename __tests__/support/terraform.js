// The real terraform binary as a later workflow step runs it: `terraform init` of a configuration
// that holds only an azurerm backend with Entra ID auth (`use_azuread_auth`), whose storage
// account the test's inspecting proxy (inspecting-proxy.js) answers for. The backend signs in
// first, then asks the account for its state: that request carries the token it got.
import { execFile, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Where terraform runs: Linux only, as Go is told which certificate to trust (the proxy's) with
 * SSL_CERT_FILE, which it reads only there (macOS and Windows ask the system). .ci/run says when
 * terraform is missing.
 */
export const hasTerraform =
  process.platform === 'linux' && spawnSync('terraform', ['version']).status === 0

/**
 * Writes main.tf and runs `terraform init` in `dir`, every request to Azure going through `proxy`.
 * @param {{ dir: string, account: string, signIn: 'use_msi' | 'use_oidc',
 *   env: Record<string, string | undefined>, proxy: { url: string, certPem: string } }} options
 *   `env`: the step's environment with the ARM_* variables of the sign-in.
 * @returns {Promise<{ code: number | null, output: string }>}
 */
export function initAzurermBackend({ dir, account, signIn, env, proxy }) {
  writeFileSync(
    join(dir, 'main.tf'),
    [
      'terraform {',
      '  backend "azurerm" {',
      `    storage_account_name = "${account}"`,
      '    container_name       = "tfstate"',
      '    key                  = "ci.terraform.tfstate"',
      '    use_azuread_auth     = true',
      `    ${signIn.padEnd(20)} = true`,
      '  }',
      '}',
      ''
    ].join('\n')
  )
  writeFileSync(join(dir, 'proxy-ca.pem'), proxy.certPem)
  return new Promise((resolve) => {
    const child = execFile(
      'terraform',
      ['init', '-input=false', '-no-color'],
      {
        cwd: dir,
        timeout: 120_000,
        env: {
          ...env,
          HOME: dir,
          CHECKPOINT_DISABLE: '1',
          TF_IN_AUTOMATION: '1',
          ARM_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
          HTTP_PROXY: proxy.url,
          HTTPS_PROXY: proxy.url,
          SSL_CERT_FILE: join(dir, 'proxy-ca.pem')
        }
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? child.exitCode : 0, output: stdout + stderr })
    )
  })
}
