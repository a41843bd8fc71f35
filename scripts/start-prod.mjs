// The launcher's name before it became CommonJS (scripts/start-prod.cjs): a process manager set up
// from an older README still starts the app, through the ES module loader (~30 ms slower).
import './start-prod.cjs';
