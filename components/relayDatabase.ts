import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as mysql from "@pulumi/mysql";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "../contract/componentTypes";
import * as random from "@pulumi/random";
import * as path from "path";
import { DATABASE_SETTINGS_ENV, type DatabaseSettings } from "../contract/databaseSettings";
import { sqlChecksum } from "../sql/migrate";

/** What the relay user may do in the storefront database: own its outbox, trigger, events. */
export const RELAY_USER_PRIVILEGES = [
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "CREATE",
  "ALTER",
  "INDEX",
  "DROP",
  "CREATE VIEW",
  "SHOW VIEW",
  "TRIGGER",
  "EVENT",
  "CREATE ROUTINE",
  "ALTER ROUTINE",
  "EXECUTE",
  // Dispatch and purge keep their per-run work lists in temporary tables.
  "CREATE TEMPORARY TABLES",
] as const;

/** Aurora MySQL 3's built-in role that permits `lambda_async`. */
export const AWS_LAMBDA_ACCESS_ROLE = "AWS_LAMBDA_ACCESS";

const PROJECT_ROOT = path.join(__dirname, "..");

export interface RelayDatabaseArgs {
  /** `host:port` of the cluster (or the tunnel given by `dbEndpointOverride`). */
  readonly endpoint: pulumi.Input<string>;
  /** True when `endpoint` is a tunnel to the cluster (TLS is then not verifiable by host name). */
  readonly tunnel: boolean;
  readonly masterUsername: pulumi.Input<string>;
  /** Secrets Manager secret of the master password (managed by RDS). */
  readonly masterUserSecretArn: pulumi.Input<string>;
  /** The storefront's database holding the relayed tables. */
  readonly databaseName: string;
  /** What the relay's SQL needs (`databaseSettingsFor(config, region)`), less the function ARN. */
  readonly settings: Omit<DatabaseSettings, "functionArn">;
  /** The notify function `lambda_async` calls. */
  readonly notifyFunctionArn: pulumi.Input<string>;
  /** Resources the migration must wait for (invoke role association, instances). */
  readonly ready: pulumi.Input<string>;
  /**
   * The MySQL user the ack Lambda connects as with IAM database authentication: no password,
   * EXECUTE on relay_confirm only. @default - none (purgeRequires = handedOff)
   */
  readonly ackUser?: string;
}

/** The only routine the ack user may call. */
export const ACK_PROCEDURE = "relay_confirm";

/**
 * The objects inside the cluster: the storefront database, the relay user (definer of the
 * trigger, events and procedures) with `AWS_LAMBDA_ACCESS` and only the grants it needs, and the
 * migration that applies `sql/` — again whenever the SQL or the settings change.
 */
export class RelayDatabase extends pulumi.ComponentResource {
  public readonly relayUser: pulumi.Output<string>;
  public readonly migration: command.local.Command;

  constructor(name: string, args: RelayDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super(COMPONENT_TYPE.relayDatabase, name, {}, opts);

    // No secret is needed to preview: the master password is read from Secrets Manager at deploy.
    const masterSecret = aws.secretsmanager.getSecretVersionOutput(
      { secretId: args.masterUserSecretArn },
      { parent: this },
    );
    const masterPassword = pulumi.secret(
      masterSecret.secretString.apply((text) => {
        const parsed = JSON.parse(text) as { password?: string };
        if (!parsed.password) throw new Error(`${name}: the master secret holds no password`);
        return parsed.password;
      }),
    );
    const mysqlProvider = new mysql.Provider(
      `${name}-mysql`,
      {
        // Waits for the instances and the Lambda role association: the cluster endpoint exists
        // minutes before any instance accepts connections.
        endpoint: pulumi.all([args.endpoint, args.ready]).apply(([endpoint]) => endpoint),
        username: args.masterUsername,
        password: masterPassword,
        // require_secure_transport is ON; a tunnel's host name cannot match the certificate.
        tls: args.tunnel ? "skip-verify" : "true",
      },
      { parent: this },
    );
    const mysqlOpts = { parent: this, provider: mysqlProvider };

    const database = new mysql.Database(
      `${name}-database`,
      {
        name: args.databaseName,
        defaultCharacterSet: "utf8mb4",
        defaultCollation: "utf8mb4_0900_ai_ci",
      },
      mysqlOpts,
    );
    const password = new random.RandomPassword(
      `${name}-relay-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const user = new mysql.User(
      `${name}-relay-user`,
      { user: "relay", host: "%", plaintextPassword: password.result, tlsOption: "SSL" },
      mysqlOpts,
    );
    const privileges = new mysql.Grant(
      `${name}-relay-privileges`,
      {
        user: user.user,
        host: user.host,
        database: database.name,
        privileges: [...RELAY_USER_PRIVILEGES],
      },
      mysqlOpts,
    );
    const lambdaAccess = new mysql.Grant(
      `${name}-relay-lambda-access`,
      {
        user: user.user,
        host: user.host,
        database: database.name,
        roles: [AWS_LAMBDA_ACCESS_ROLE],
      },
      mysqlOpts,
    );

    const relayUrl = pulumi.secret(
      pulumi
        .all([user.user, password.result, args.endpoint, database.name])
        .apply(
          ([userName, secret, endpoint, db]) =>
            `mysql://${encodeURIComponent(userName)}:${encodeURIComponent(secret)}@${endpoint}/${db}`,
        ),
    );
    // One JSON value carries every setting to the runner, which validates it with the same schema.
    const settingsJson = pulumi
      .output(args.notifyFunctionArn)
      .apply((functionArn) => JSON.stringify({ ...args.settings, functionArn }));
    this.migration = new command.local.Command(
      `${name}-migrate`,
      {
        dir: PROJECT_ROOT,
        // The password travels in the environment, never on the command line.
        environment: { RELAY_DB_URL: relayUrl, [DATABASE_SETTINGS_ENV]: settingsJson },
        create: "npm run --silent db:migrate -- --tls",
        // Re-run whenever the SQL, a setting or the cluster's readiness changes.
        triggers: [sqlChecksum(), settingsJson, args.ready],
      },
      { parent: this, dependsOn: [privileges, lambdaAccess] },
    );

    if (args.ackUser) {
      const ackUser = new mysql.User(
        `${name}-ack-user`,
        // AWSAuthenticationPlugin: Aurora checks an IAM token (rds-db:connect) instead of a password.
        { user: args.ackUser, host: "%", authPlugin: "AWSAuthenticationPlugin", tlsOption: "SSL" },
        mysqlOpts,
      );
      new mysql.Grant(
        `${name}-ack-execute`,
        {
          user: ackUser.user,
          host: ackUser.host,
          // The provider's form for a routine grant: GRANT EXECUTE ON PROCEDURE db.relay_confirm.
          database: pulumi.interpolate`PROCEDURE ${database.name}.${ACK_PROCEDURE}`,
          privileges: ["EXECUTE"],
        },
        // The procedure exists once the migration has run.
        { ...mysqlOpts, dependsOn: [this.migration] },
      );
    }

    this.relayUser = user.user;
    this.registerOutputs({ relayUser: this.relayUser });
  }
}
