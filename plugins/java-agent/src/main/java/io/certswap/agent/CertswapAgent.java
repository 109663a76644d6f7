package io.certswap.agent;

import java.lang.instrument.Instrumentation;
import java.nio.file.Path;
import java.security.Security;
import javax.net.ssl.KeyManagerFactory;

/**
 * Entry point of {@code -javaagent:certswap-agent.jar[=dir=PATH]}.
 *
 * <p>Registers {@link ReloadingKeyManagerFactory} under {@link CertswapProvider#ALGORITHM}
 * and makes it the JVM's default key manager algorithm. kafka-clients takes that default
 * when {@code ssl.keymanager.algorithm} is unset, so its built-in engine factory builds
 * its key manager through us without a change to the app or its Kafka settings.
 */
public final class CertswapAgent {
    private CertswapAgent() {}

    public static void premain(String args, Instrumentation inst) {
        Path dir = reloadDir(args);
        if (dir == null) {
            Log.info("no CERTSWAP_RELOAD_DIR and no dir= argument: inactive");
            return;
        }
        // Read before we replace it: the factory wraps the JVM's own default.
        String inner = KeyManagerFactory.getDefaultAlgorithm();
        if (CertswapProvider.ALGORITHM.equals(inner)) {
            return; // loaded twice (JAVA_TOOL_OPTIONS and the command line)
        }
        ReloadingKeyManagerFactory.configure(dir, inner);
        Security.addProvider(new CertswapProvider());
        Security.setProperty("ssl.KeyManagerFactory.algorithm", CertswapProvider.ALGORITHM);
        Log.info("watching " + dir + " (wrapping " + inner + ")");
    }

    static Path reloadDir(String args) {
        if (args != null) {
            for (String part : args.split(",")) {
                if (part.startsWith("dir=") && part.length() > 4) {
                    return Path.of(part.substring(4));
                }
            }
        }
        String env = System.getenv("CERTSWAP_RELOAD_DIR");
        return env == null || env.isEmpty() ? null : Path.of(env);
    }
}
