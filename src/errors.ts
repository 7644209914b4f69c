/**
 * Errors the action reports to the user. Their `message` is safe to print (it never quotes a
 * secret) and says what to do; `run()` turns them into one `::error::` line without a stack trace.
 */
export class ActionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** A problem with one input, found before anything is sent. */
export class InputError extends ActionError {
  constructor(
    /** The input's name as written in the workflow, e.g. `tenant-id`. */
    readonly input: string,
    message: string
  ) {
    super(message)
  }
}

/** The token endpoint (or the exchange endpoint) answered with an error, or could not be reached. */
export class TokenError extends ActionError {
  constructor(
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number
  ) {
    super(message)
  }
}
