import { connectNatsBus } from '../src/nats-bus.js';
import { natsUrlForTests, removeTopology } from '../src/testing.js';
import { busContract } from './contract.js';

const url = await natsUrlForTests();

busContract(
  'nats',
  async (prefix) => connectNatsBus({ url, prefix, name: `contract-${prefix}` }),
  async (prefix) => removeTopology(url, prefix),
);
