// Makes encrypted-context.json the way Clodds' session manager encrypts a
// session context (src/sessions/index.ts: scryptSync(password, salt, 32),
// AES-256-GCM with a 16-byte IV, base64 fields, {"__encrypted": true, ...}).
// Run: node make-envelope.js > encrypted-context.json
const { createCipheriv, randomBytes, scryptSync } = require('crypto');
const password = 'correct horse battery staple';
const context = {
  messageCount: 4,
  lastMarkets: ['polymarket:will-it-rain'],
  preferences: { currency: 'USD' },
  conversationHistory: [
    { role: 'user', content: 'is it going to rain in Lisbon?', timestamp: 1767225600000 },
    { role: 'assistant', content: 'The market says 62% yes.', timestamp: 1767225601000 },
  ],
  contextSummary: '- user: asked about weather markets\n- assistant: listed three',
  checkpoint: {
    createdAt: 1767225601500,
    messageCount: 4,
    summary: 'before switching to sports',
    history: [{ role: 'user', content: 'is it going to rain in Lisbon?', timestamp: 1767225600000 }],
  },
};
const salt = randomBytes(32);
const key = scryptSync(password, salt, 32);
const iv = randomBytes(16);
const c = createCipheriv('aes-256-gcm', key, iv);
let enc = c.update(JSON.stringify(context), 'utf8', 'base64');
enc += c.final('base64');
process.stdout.write(JSON.stringify({ __encrypted: true, encrypted: enc, iv: iv.toString('base64'), authTag: c.getAuthTag().toString('base64'), salt: salt.toString('base64') }) + '\n');
