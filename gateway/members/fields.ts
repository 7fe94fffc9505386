// The field parsers live in policies/ since central's LMS import reads the same kinds of values.
export { GROUP_PATTERN, parseBoolean, parseDate, parseGroups } from '../../policies/member-fields.js';
