/**
 * kinesalite and dynalite in a process of their own, as a benchmark's stand-in for the AWS services:
 * prints `{"kinesis": URL, "dynamodb": URL}` on one line, then serves until killed.
 *
 *   node --import tsx bench/emulators.ts
 */
import { startDynalite, startKinesalite } from '../infra/local/emulators.ts';

const kinesis = await startKinesalite();
const dynamodb = await startDynalite();
console.log(JSON.stringify({ kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint }));
process.on('SIGTERM', () => process.exit(0));
