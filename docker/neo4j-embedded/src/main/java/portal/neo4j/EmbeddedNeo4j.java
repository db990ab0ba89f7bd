package portal.neo4j;

import static org.neo4j.configuration.GraphDatabaseSettings.DEFAULT_DATABASE_NAME;
import static org.neo4j.configuration.GraphDatabaseSettings.SYSTEM_DATABASE_NAME;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Loopback-only Neo4j Community (embedded) exposing Bolt, for local dev and tests.
 *
 * <p>Usage: {@code EmbeddedNeo4j --home DIR --bolt-port N [--ready-file PATH] [--pagecache 64m]}
 *
 * <p>Auth and TLS are off on purpose: it only ever binds 127.0.0.1. Production must point
 * NEO4J_URI at a real server instead.
 */
public final class EmbeddedNeo4j {
    private static final Duration START_TIMEOUT = Duration.ofMinutes(2);

    public static void main(String[] args) {
        Path home = null;
        Path readyFile = null;
        int port = -1;
        long pagecache = ByteUnit.mebiBytes(64);
        try {
            for (int i = 0; i < args.length; i += 2) {
                String flag = args[i]; // every flag takes exactly one value
                if (i + 1 >= args.length) throw new IllegalArgumentException("missing value for " + flag);
                String v = args[i + 1];
                switch (flag) {
                    case "--home" -> home = Path.of(v).toAbsolutePath();
                    case "--bolt-port" -> port = Integer.parseInt(v);
                    case "--ready-file" -> readyFile = Path.of(v).toAbsolutePath();
                    case "--pagecache" -> pagecache = ByteUnit.parse(v);
                    default -> throw new IllegalArgumentException("unknown argument: " + flag);
                }
            }
            if (home == null || port <= 0 || port > 65535) {
                throw new IllegalArgumentException("--home DIR and --bolt-port N (1-65535) are required");
            }
        } catch (RuntimeException e) {
            fail("bad arguments: " + e.getMessage()
                    + "\nusage: EmbeddedNeo4j --home DIR --bolt-port N [--ready-file PATH] [--pagecache 64m]", null);
            return;
        }

        // A stale ready file from a previous run would let a supervisor connect too early.
        deleteQuietly(readyFile);

        DatabaseManagementService dbms;
        try {
            Files.createDirectories(home);
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    // Bolt otherwise waits 5s + 5s for idle connections/worker threads on
                    // shutdown, so SIGTERM took ~10s even though the store was already closed.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                    // Embedded has no web server, but be explicit so nothing else ever binds.
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    // Several instances share one small box: keep off-heap use tiny and
                    // put tx state on-heap so -Xmx is the real ceiling.
                    .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                    .setConfig(GraphDatabaseSettings.tx_state_memory_allocation,
                            GraphDatabaseSettings.TransactionStateMemoryAllocation.ON_HEAP)
                    .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, ByteUnit.mebiBytes(256))
                    .setConfig(GraphDatabaseSettings.pagecache_warmup_enabled, false)
                    // Never phone home from dev/test machines.
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    // debug.log goes to HOME/logs; nothing is wired to stdout.
                    .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
                    .build();
        } catch (Throwable e) {
            fail("failed to start Neo4j (home " + home + ", bolt 127.0.0.1:" + port + ")", e);
            return;
        }

        // Registered right after build() so a signal during the availability wait still
        // closes the store cleanly (avoids recovery on next start).
        Path ready = readyFile;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            deleteQuietly(ready);
            dbms.shutdown();
        }, "neo4j-embedded-shutdown"));

        try {
            // Bolt clients need both: system for routing/auth lookups, neo4j for data.
            for (String name : new String[] {SYSTEM_DATABASE_NAME, DEFAULT_DATABASE_NAME}) {
                if (!dbms.database(name).isAvailable(START_TIMEOUT.toMillis())) {
                    throw new IllegalStateException("database '" + name + "' not available after " + START_TIMEOUT);
                }
            }
            if (readyFile != null) {
                // Write-then-rename so a polling supervisor never sees a half-written file.
                Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
                Files.writeString(tmp, port + "\n", StandardCharsets.UTF_8);
                Files.move(tmp, readyFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (Throwable e) {
            fail("Neo4j started but did not become ready", e); // shutdown hook closes dbms
            return;
        }

        System.out.println("neo4j-embedded ready bolt://127.0.0.1:" + port);
        System.out.flush();

        try {
            new CountDownLatch(1).await(); // Park forever; SIGTERM/SIGINT -> shutdown hook.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void fail(String message, Throwable cause) {
        System.err.println("neo4j-embedded: " + message);
        for (Throwable t = cause; t != null; t = t.getCause()) {
            System.err.println("  caused by: " + t);
        }
        System.exit(1);
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // Best effort only.
        }
    }
}
