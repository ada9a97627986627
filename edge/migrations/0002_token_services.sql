-- Tokens are bound to the services they may act for: a JSON array of service names, or ["*"]
-- (every service, only when written explicitly at mint). NULL means bound to no service: tokens
-- without a credentials:* scope, and every token minted before this migration. The edge refuses
-- a NULL token on the credential routes (403 token_services_missing) until it is minted anew with
-- `services`; its other scopes keep working.
ALTER TABLE api_tokens ADD COLUMN services TEXT CHECK (services IS NULL OR json_valid(services));
