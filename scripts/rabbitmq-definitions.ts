// Writes deploy/rabbitmq/definitions.json: the bus's topology (lib/bus/catalog.ts)
// under the default bus settings, for RabbitMQ's load_definitions or
// `rabbitmqctl import_definitions`. test/contract/bus.test.ts fails when it is stale.
// Usage: npx node scripts/rabbitmq-definitions.ts
import { writeFileSync } from 'node:fs';
import { DEFAULT_EXCHANGE, systemTopology } from '../lib/bus/catalog.ts';
import { busSettings } from '../lib/bus/config.ts';
import { definitionsOf } from '../lib/bus/topology.ts';
import { loadConfig } from '../lib/config/load.ts';

const { bus } = loadConfig({ bus: busSettings }, {});
const definitions = definitionsOf(systemTopology(DEFAULT_EXCHANGE, bus.retry));
const path = new URL('../deploy/rabbitmq/definitions.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(definitions, null, 2)}\n`);
