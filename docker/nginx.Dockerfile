# syntax=docker/dockerfile:1.7
# The public front (main server, :80 → :443). TLS material is mounted at /etc/nginx/certs (never baked in).
FROM nginx:1.27-alpine
RUN rm -f /etc/nginx/conf.d/default.conf && mkdir -p /etc/nginx/snippets /etc/nginx/certs
COPY docker/nginx/security-headers.conf /etc/nginx/snippets/security-headers.conf
COPY docker/nginx/prod.conf /etc/nginx/nginx.conf
EXPOSE 80 443
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/health"]
CMD ["nginx", "-g", "daemon off;"]
