"""Everything that speaks Shopify: webhook verification, the Admin GraphQL client, tokens."""
