import type { AccountMeter } from "../durable-objects/account-meter.ts";

/**
 * The account meter stub for an account. Naming scheme: one object per account, named by the
 * account id itself, so any Worker anywhere reaches the same object.
 */
export function meterFor(env: Env, accountId: string): DurableObjectStub<AccountMeter> {
  return env.ACCOUNT_METER.get(env.ACCOUNT_METER.idFromName(accountId));
}
