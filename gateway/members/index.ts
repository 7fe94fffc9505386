export { importMembersCsv, ImportError, MAX_REJECTED_LISTED } from './import-csv.js';
export type { ImportOptions, ImportProgress, ImportSummary, RejectedRow } from './import-csv.js';
export { DEFAULT_MEMBER_MAPPING, MemberImportColumnsSchema, MemberImportMappingSchema } from './mapping.js';
export type { MemberField, MemberImportMapping, MemberImportMappingInput } from './mapping.js';
export { createMemberRowSchema } from './row-schema.js';
export type { MemberRowInput, ParsedMemberRow } from './row-schema.js';
export { parseBoolean, parseDate, parseGroups } from './fields.js';
