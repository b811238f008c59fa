# The bridge as an image: `docker build -t asyntai-bridge .`
# Three stages: build (TypeScript, with dev dependencies), deps (production dependencies; the
# native better-sqlite3 module is built here if no prebuilt binary fits, with the tools only this stage
# has), and the runtime, which gets the compiled code and node_modules and nothing else.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
COPY scripts ./scripts
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: the project's own `prepare` (a build) needs the dev tools this stage leaves out;
# better-sqlite3's native build is then run on its own.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm rebuild better-sqlite3

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# package.json says "type": "module", which the compiled ES modules need.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The default STORE_URL (sqlite://data/bridge.sqlite) writes here. With SQLite, mount a volume on
# /app/data so sessions survive a new container; with Redis nothing is written.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# Start period: the first connection to each platform may take a while (retries are logged).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `docker stop` sends SIGTERM: no new events, answers in progress finish (SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
CMD ["node", "dist/bundle/main.js"]
