/**
 * vitest global setup: finds the local Redis by itself, as `.ci/run` does. When REDIS_URL is unset
 * and Redis answers PING on 127.0.0.1:6379, the Redis store tests run against it (under a
 * namespace of their own, cleared afterwards); either way one line says which.
 */
import { connect } from 'node:net';

const LOCAL_REDIS = { host: '127.0.0.1', port: 6379 };

/** Whether a Redis server answers PING at host:port within a second. */
function redisAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(data.toString().startsWith('+PONG')));
  });
}

export default async function setup(): Promise<void> {
  if (process.env['REDIS_URL']) {
    console.log(`Redis tests use REDIS_URL=${process.env['REDIS_URL'].replace(/\/\/[^@/]*@/, '//***@')}`);
    return;
  }
  if (await redisAnswers(LOCAL_REDIS.host, LOCAL_REDIS.port)) {
    // Test files run in forked workers, which inherit this environment.
    process.env['REDIS_URL'] = `redis://${LOCAL_REDIS.host}:${LOCAL_REDIS.port}`;
    console.log(`Redis answers on ${LOCAL_REDIS.host}:${LOCAL_REDIS.port}: Redis tests use it (set REDIS_URL to choose another)`);
  } else {
    console.log(`No Redis on ${LOCAL_REDIS.host}:${LOCAL_REDIS.port} and REDIS_URL unset: Redis store tests are skipped`);
  }
}
