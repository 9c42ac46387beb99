"""What the routes call: the AI client, the challenge flow, verification, rate limits and collection."""
