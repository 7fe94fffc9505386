// The policies room: schedules and entry rules. Pure; imports nothing of the project.
export * from './types.js';
export {
  PolicySchema,
  WindowSchema,
  ExceptionSchema,
  BookingSchema,
  RulesSchema,
  ScheduleSchema,
  ClosingSchema,
  TimeOfDaySchema,
  LocalDateSchema,
  SCHEDULE_WINDOW_MODES,
  MAX_POLICY_VERSION,
  parsePolicy,
  loadPolicyText,
  parseDocumentText,
} from './schema.js';
export type { Policy, PolicyInput, PolicyParse, Window, PolicyException, Booking, Rules } from './schema.js';
export { formatIssues, formatPath, plainErrors, validate } from './errors.js';
export type { Validation } from './errors.js';
export { compilePolicy, HORIZON_DAYS } from './compile.js';
export type { CompiledPolicy } from './compile.js';
export {
  modeAt,
  upcoming,
  transitionsBetween,
  spansBetween,
  activeBookings,
  bookingsBetween,
  dayBounds,
  localDateOf,
  toLocalIso,
  localToInstant,
} from './schedule.js';
export { decide, isAdultGrant } from './decide.js';
export { bookingOpensDoor, unknownBookingDoors, unknownPolicyNames, unknownPolicyOutputs } from './branch-names.js';
export { ageOn, meetsMinimumAge, ADULT_AGE } from './age.js';
export { hashPin, verifyPin, PIN_PATTERN } from './pin.js';
export { isValidTimeZone } from './time.js';
export {
  MAX_POLICY_BYTES,
  MAX_CONFIG_BYTES,
  MAX_KEY_FILE_BYTES,
  MAX_HTTP_BODY_BYTES,
  MAX_MEMBER_CSV_BYTES,
  MAX_YAML_ALIASES,
  Utf8Validator,
  checkTextSize,
  decodeUtf8,
  formatBytes,
  invalidUtf8,
  invalidUtf8Offset,
  parseYamlDocument,
  strictJsonBody,
  tooLarge,
  utf8Length,
} from './input-text.js';
export type { TextResult, YamlParse, YamlProblem } from './input-text.js';
