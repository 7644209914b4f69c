/** Clocks closer than this are left alone: Entra itself allows a few minutes of skew. */
export const CLOCK_SKEW_THRESHOLD_MS = 60_000

/** The parts of a token endpoint's answer the measurement reads. */
export interface AnswerSeen {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * The server's clock minus this runner's, in ms, when the answer is Entra's refusal of the
 * assertion's time range (AADSTS700024, PROTOCOL.md §1) and its `Date` header (RFC 9110 §6.6.1)
 * is more than {@link CLOCK_SKEW_THRESHOLD_MS} away from `receivedAt`; undefined otherwise.
 * `Date` has whole seconds: the middle of its second is taken.
 */
export function measureClockSkew(answer: AnswerSeen, receivedAt: number): number | undefined {
  if (answer.status !== 400 && answer.status !== 401) return undefined
  if (!isTimeRangeRefusal(answer.body)) return undefined
  const raw = answer.headers.date
  const date = parseHttpDate(Array.isArray(raw) ? raw[0] : raw)
  if (date === undefined) return undefined
  const offset = date + 500 - receivedAt
  return Math.abs(offset) > CLOCK_SKEW_THRESHOLD_MS ? offset : undefined
}

/** Entra's code is in `error_codes`; the description's `AADSTS700024:` prefix as a fallback. */
function isTimeRangeRefusal(body: string): boolean {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return false
  }
  if (json === null || typeof json !== 'object') return false
  const { error_codes: codes, error_description: description } = json as Record<string, unknown>
  if (Array.isArray(codes)) return codes[0] === 700024
  return typeof description === 'string' && description.startsWith('AADSTS700024:')
}

/** Only the IMF-fixdate form servers send (`Sun, 06 Nov 1994 08:49:37 GMT`). */
function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text))
    return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : time
}
