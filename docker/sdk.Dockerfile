# syntax=docker/dockerfile:1.7
# The browser SDK: built with node (typecheck + size budget in `npm run build`), served as static files on :3000.
FROM node:20-bookworm-slim AS build
WORKDIR /sdk
COPY web/sdk/package.json web/sdk/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/sdk/ ./
RUN npm run --silent build

FROM nginxinc/nginx-unprivileged:1.27-alpine AS runtime
COPY docker/nginx/sdk.conf /etc/nginx/conf.d/default.conf
COPY --from=build /sdk/dist/ /usr/share/nginx/html/
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/health"]
