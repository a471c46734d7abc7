export { type Behaviour, MISBEHAVIOURS, type Misbehaviour, NORMAL_BEHAVIOUR } from './behaviour.js';
export { MockUpstream, type MockUpstreamOptions, type RecordedRequest } from './server.js';
