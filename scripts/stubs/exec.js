// Build-time stand-in for `@actions/exec`. @actions/core imports it only for `platform.getDetails()`
// (OS name and version), which this action never calls; the real module would load child_process
// and @actions/io on every run for nothing.
export async function getExecOutput() {
  throw new Error('@actions/exec is not bundled with this action')
}
export async function exec() {
  throw new Error('@actions/exec is not bundled with this action')
}
