import { errorCode, parseJson } from './answer.js'
import { parseHttpDate } from './retry.js'

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

/** Entra's code, from `error_codes` or the description's `AADSTS700024:`, read as every answer is. */
function isTimeRangeRefusal(body: string): boolean {
  const json = parseJson(body)
  if (json === undefined) return false
  const description = json.error_description
  return (
    errorCode(json.error_codes, typeof description === 'string' ? description : undefined) ===
    '700024'
  )
}
