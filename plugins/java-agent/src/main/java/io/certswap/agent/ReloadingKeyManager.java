package io.certswap.agent;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Serves the key store of the generation {@code ..data} points to when a handshake
 * chooses its alias. The alias carries the generation, so the chain and key a handshake
 * asks for next come from the set it chose even if {@code ..data} moves meanwhile.
 * A generation whose content is wrong (not PKCS#12, a key that does not match) is refused
 * once and the previous set keeps serving; one that could not be read (an I/O error) is
 * read again by a later handshake, at most once per {@link #RETRY_NANOS}.
 */
final class ReloadingKeyManager extends X509ExtendedKeyManager {
    private static final char SEPARATOR = '/';
    static final long RETRY_NANOS = 1_000_000_000L;

    /** A generation that could not be read, and when it may be read again. */
    private record Retry(String generation, long notBeforeNanos) {}

    private final Path dir;
    private final char[] password;
    private final KeyStoreSet.FileReader reader;
    private final LongSupplier nanoClock;
    private volatile KeyStoreSet current;
    private volatile KeyStoreSet previous;
    private volatile String refused;
    private volatile Retry retry;

    ReloadingKeyManager(Path dir, char[] password, KeyStoreSet initial) {
        this(dir, password, initial, Files::readAllBytes, System::nanoTime);
    }

    ReloadingKeyManager(Path dir, char[] password, KeyStoreSet initial, KeyStoreSet.FileReader reader,
                        LongSupplier nanoClock) {
        this.dir = dir;
        this.password = password;
        this.current = initial;
        this.reader = reader;
        this.nanoClock = nanoClock;
    }

    /** True while {@code generation} failed to read less than RETRY_NANOS ago. */
    private boolean waiting(String generation) {
        Retry r = retry;
        return r != null && r.generation().equals(generation)
               && nanoClock.getAsLong() - r.notBeforeNanos() < 0;
    }

    /** One readlink per handshake; a full read only when the generation changed. */
    private KeyStoreSet refresh() {
        KeyStoreSet set = current;
        String generation = KeyStoreSet.currentGeneration(dir);
        if (generation == null || generation.equals(set.generation()) || generation.equals(refused)
            || waiting(generation)) {
            return set;
        }
        synchronized (this) {
            set = current;
            if (generation.equals(set.generation()) || generation.equals(refused) || waiting(generation)) {
                return set;
            }
            try {
                KeyStoreSet next = KeyStoreSet.load(dir, generation, password, reader);
                previous = set;
                current = next;
                retry = null;
                Log.info("switched to generation " + generation + " (" + next.describe() + ")");
                return next;
            } catch (IOException e) {
                Retry last = retry;
                if (last == null || !last.generation().equals(generation)) {
                    Log.info("could not read generation " + generation + ": " + e.getMessage()
                             + "; keeping " + set.generation() + ", trying again on a later handshake");
                }
                retry = new Retry(generation, nanoClock.getAsLong() + RETRY_NANOS);
                return set;
            } catch (Exception e) {
                refused = generation;
                Log.info("refused generation " + generation + ": " + e.getMessage()
                         + "; keeping " + set.generation());
                return set;
            }
        }
    }

    private String tag(KeyStoreSet set, String alias) {
        return alias == null ? null : set.generation() + SEPARATOR + alias;
    }

    /** The set and inner alias a tagged alias names, or null for an unknown one. */
    private KeyStoreSet setOf(String alias) {
        if (alias == null) {
            return null;
        }
        for (KeyStoreSet set : new KeyStoreSet[] {current, previous}) {
            if (set != null && alias.startsWith(set.generation() + SEPARATOR)) {
                return set;
            }
        }
        return null;
    }

    private static String innerAlias(KeyStoreSet set, String alias) {
        return alias.substring(set.generation().length() + 1);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        KeyStoreSet set = refresh();
        return tag(set, set.manager().chooseEngineClientAlias(keyType, issuers, engine));
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        KeyStoreSet set = refresh();
        return tag(set, set.manager().chooseClientAlias(keyType, issuers, socket));
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        KeyStoreSet set = refresh();
        return tag(set, set.manager().chooseEngineServerAlias(keyType, issuers, engine));
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        KeyStoreSet set = refresh();
        return tag(set, set.manager().chooseServerAlias(keyType, issuers, socket));
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        KeyStoreSet set = refresh();
        return tagAll(set, set.manager().getClientAliases(keyType, issuers));
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        KeyStoreSet set = refresh();
        return tagAll(set, set.manager().getServerAliases(keyType, issuers));
    }

    private String[] tagAll(KeyStoreSet set, String[] aliases) {
        if (aliases == null) {
            return null;
        }
        String[] out = new String[aliases.length];
        for (int i = 0; i < aliases.length; i++) {
            out[i] = tag(set, aliases[i]);
        }
        return out;
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        KeyStoreSet set = setOf(alias);
        return set == null ? null : set.manager().getCertificateChain(innerAlias(set, alias));
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        KeyStoreSet set = setOf(alias);
        return set == null ? null : set.manager().getPrivateKey(innerAlias(set, alias));
    }
}
