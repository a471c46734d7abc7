// Worker threads do not inherit the parent's module hooks on Node 20, so the worker registers tsx itself
// before importing the TypeScript simulation (the --conditions flag is inherited through execArgv).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
