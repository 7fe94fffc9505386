// The member list's fingerprint is shared with central: it lives in policies/member-list.ts.
export { EMPTY_LIST_HASH, ListHash, canonicalMemberBytes, memberDigest } from '../../policies/member-list.js';
