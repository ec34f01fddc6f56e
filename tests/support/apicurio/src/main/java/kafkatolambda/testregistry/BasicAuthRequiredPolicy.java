package kafkatolambda.testregistry;

import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.vertx.http.runtime.security.HttpSecurityPolicy;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import javax.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * With -Dtest-registry.basic-auth-required=true, every request under /apis/ must carry the
 * credentials of an embedded user: none gets 401 with a Basic challenge, wrong ones 401.
 * /health stays open, so readiness can be checked without them.
 *
 * <p>Why a policy bean rather than quarkus.http.auth.permission.*: in Quarkus 2.16 those are
 * fixed at build time, and one build must serve both an open and a protected registry.
 */
@ApplicationScoped
public class BasicAuthRequiredPolicy implements HttpSecurityPolicy {

    @ConfigProperty(name = "test-registry.basic-auth-required", defaultValue = "false")
    boolean basicAuthRequired;

    @Override
    public Uni<CheckResult> checkPermission(
            RoutingContext request, Uni<SecurityIdentity> identity, AuthorizationRequestContext context) {
        if (!basicAuthRequired || !request.normalizedPath().startsWith("/apis/")) {
            return Uni.createFrom().item(CheckResult.PERMIT);
        }
        return identity.map(
                user -> user == null || user.isAnonymous() ? CheckResult.DENY : CheckResult.PERMIT);
    }
}
