/** Moved to src/model/exphist.ts (shared with the push stores); re-exported for existing imports. */
export * from '../../src/model/exphist.js';
