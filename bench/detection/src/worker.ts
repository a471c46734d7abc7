import { parentPort, workerData } from 'node:worker_threads';
import { type SimulationOptions, simulate } from './simulation.js';

// One worker simulates its share of the fleets, one after another, and sends back the results.
const jobs = workerData as SimulationOptions[];
parentPort!.postMessage(jobs.map((job) => simulate(job)));
