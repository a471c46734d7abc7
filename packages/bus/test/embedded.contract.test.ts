import { createEmbeddedBus } from '../src/embedded-bus.js';
import { busContract } from './contract.js';

busContract(
  'embedded',
  async (prefix) => createEmbeddedBus({ prefix }),
  async () => undefined,
);
