/**
 * The roles and database every meterline cluster has, created idempotently on each start so a
 * re-used data folder converges to the same state as a fresh one.
 */
import pg from "pg";

export const APP_ROLE = "app";
export const APP_DATABASE = "meterline";

/**
 * Ensures role `app` (login, CREATEDB like Neon's owner role, password from the credentials
 * file) and database `meterline` owned by it. Runs as the superuser; throws on any SQL error.
 */
export async function ensureAppRole(adminUrl: string, appPassword: string): Promise<void> {
  if (!/^[0-9a-f]+$/.test(appPassword)) {
    // The password is spliced into DDL (no parameters there); hex is all we ever generate.
    throw new Error("the app password must be hex");
  }
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const role = await client.query("select 1 from pg_roles where rolname = $1", [APP_ROLE]);
    const verb = role.rowCount === 0 ? "create" : "alter";
    await client.query(`${verb} role ${APP_ROLE} with login createdb password '${appPassword}'`);
    const db = await client.query("select 1 from pg_database where datname = $1", [APP_DATABASE]);
    if (db.rowCount === 0) {
      await client.query(`create database ${APP_DATABASE} owner ${APP_ROLE}`);
    }
  } finally {
    await client.end();
  }
}
