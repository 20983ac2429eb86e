/**
 * A queue worker process for the integration test to kill -9 mid-job: receives up to N records
 * from a queue group, prints them as one JSON line, and then "works" on them forever (no ack).
 *   node --import tsx test/integration/queue-worker.ts <bootstrap> <group> <topic> <n> <visibilityMs>
 */
import { createClient } from '../../client/index.js';

const [bootstrap, group, topic, n, visibilityMs] = process.argv.slice(2);
const ferry = createClient({ bootstrap: bootstrap!.split(','), requestTimeoutMs: 5_000 });
const got = [];
while (got.length < Number(n)) {
  got.push(...await ferry.queues.receive(group!, topic!, { max: Number(n) - got.length, visibilityTimeoutMs: Number(visibilityMs), maxWaitMs: 1_000 }));
}
process.stdout.write(`${JSON.stringify(got.map((m) => ({ partition: m.partition, offset: m.offset, deliveryCount: m.deliveryCount, value: m.value?.toString() })))}\n`);
// Works "forever" until killed; gives up after two minutes in case the test that started it died.
setTimeout(() => process.exit(3), 120_000);
