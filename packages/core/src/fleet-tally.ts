import Type, { type Static } from 'typebox';

/**
 * What one sentinel instance tells the others about its share of the fleet (`AgentTriage.fleetTally`); the
 * bus stores it per instance in the fleet bucket (`FleetTallyEntry`, which adds the instance and partitions).
 */
export const FleetTally = Type.Object(
  {
    ts: Type.Integer({ minimum: 0 }),
    window_ms: Type.Integer({ minimum: 0 }),
    /** Agents with a vital inside `activeWindowMs`. */
    fleet_size: Type.Integer({ minimum: 0 }),
    /**
     * Distinct agents per anomaly type inside the correlation window; absent types are 0. Keyed by string, so
     * a tally from an instance that knows a newer anomaly type is still read (that type is never asked for).
     */
    counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      description: 'Distinct agents per anomaly type inside the correlation window',
    }),
  },
  { additionalProperties: false },
);
export type FleetTally = Static<typeof FleetTally>;
