package kafkatolambda.testregistry;

import io.quarkus.security.identity.IdentityProviderManager;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.vertx.http.runtime.security.BasicAuthenticationMechanism;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import java.util.Optional;
import javax.annotation.Priority;
import javax.enterprise.inject.Alternative;
import javax.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Quarkus' own HTTP basic authentication, checked against the embedded users
 * (quarkus.security.users.embedded.users.NAME=PASSWORD, read at start), when
 * -Dtest-registry.basic-auth-required=true. Otherwise credentials are ignored, as an open
 * Confluent registry ignores them.
 *
 * <p>Why a bean of our own rather than quarkus.http.auth.basic=true: Apicurio declares its
 * authentication mechanism an @Alternative with @Priority(1), and ArC then leaves every
 * mechanism that is not an alternative out of the authenticator, Quarkus' basic one included.
 * A higher priority makes this the only mechanism; with registry.auth.enabled=false, Apicurio's
 * would authenticate nobody anyway.
 */
@Alternative
@Priority(2)
@Singleton
public class EmbeddedUsersBasicAuth extends BasicAuthenticationMechanism {

    @ConfigProperty(name = "test-registry.basic-auth-required", defaultValue = "false")
    boolean basicAuthRequired;

    public EmbeddedUsersBasicAuth() {
        super("schema-registry", false);
    }

    @Override
    public Uni<SecurityIdentity> authenticate(
            RoutingContext context, IdentityProviderManager identityProviderManager) {
        if (!basicAuthRequired) {
            return Uni.createFrom().optional(Optional.empty()); // anonymous, whatever was sent
        }
        return super.authenticate(context, identityProviderManager);
    }
}
