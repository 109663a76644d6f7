package io.certswap.agent;

import java.net.Socket;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Serves the key store of the generation {@code ..data} points to when a handshake
 * chooses its alias. The alias carries the generation, so the chain and key a handshake
 * asks for next come from the set it chose even if {@code ..data} moves meanwhile.
 * A generation that fails to load or whose key does not match is refused once and the
 * previous set keeps serving.
 */
final class ReloadingKeyManager extends X509ExtendedKeyManager {
    private static final char SEPARATOR = '/';

    private final Path dir;
    private final char[] password;
    private volatile KeyStoreSet current;
    private volatile KeyStoreSet previous;
    private volatile String refused;

    ReloadingKeyManager(Path dir, char[] password, KeyStoreSet initial) {
        this.dir = dir;
        this.password = password;
        this.current = initial;
    }

    /** One readlink per handshake; a full read only when the generation changed. */
    private KeyStoreSet refresh() {
        KeyStoreSet set = current;
        String generation = KeyStoreSet.currentGeneration(dir);
        if (generation == null || generation.equals(set.generation()) || generation.equals(refused)) {
            return set;
        }
        synchronized (this) {
            set = current;
            if (generation.equals(set.generation()) || generation.equals(refused)) {
                return set;
            }
            try {
                KeyStoreSet next = KeyStoreSet.load(dir, generation, password);
                previous = set;
                current = next;
                Log.info("switched to generation " + generation + " (" + next.describe() + ")");
                return next;
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
