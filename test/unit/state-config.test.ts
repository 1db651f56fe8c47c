import { describe, expect, it } from 'vitest';
import { windowStateBackend, windowStateConfigSchema } from '../../state/windowStateConfig.ts';

describe('state configuration', () => {
  it('selects the backend named by `backend`', () => {
    expect(windowStateBackend(windowStateConfigSchema.parse({ backend: 'embedded' })).kind).toBe('embedded');
    const redis = windowStateConfigSchema.parse({ backend: 'redis', redisUrl: 'redis://127.0.0.1:6379' });
    expect(redis).toMatchObject({ namespace: 'windows' });
    expect(windowStateBackend(redis, 'telemetry.windows').kind).toBe('redis');
  });

  it('names the key that is wrong', () => {
    const missing = windowStateConfigSchema.safeParse({ backend: 'redis' });
    expect(missing.error?.issues[0]?.path).toEqual(['redisUrl']);
    const unknown = windowStateConfigSchema.safeParse({ backend: 'memcached' });
    expect(unknown.error?.issues[0]?.path).toEqual(['backend']);
  });
});
