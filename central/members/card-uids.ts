// The card-UID cell is read alike at central and at a branch: the parser lives in policies/card-uids.ts.
export { MAX_CARD_UIDS, parseCardUids } from '../../policies/card-uids.js';
