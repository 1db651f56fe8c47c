# The worker image: one `shardflow run` per ECS task. Configuration comes from a mounted YAML file and
# SHARDFLOW_* environment variables; database credentials from the environment or Secrets Manager.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=1
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly, so the image needs only the runtime dependencies.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY cli ./cli
COPY topology ./topology
COPY sources ./sources
COPY operators ./operators
COPY state ./state
COPY sinks ./sinks
COPY specs ./specs
COPY gateways ./gateways
COPY actions ./actions
COPY infra ./infra
COPY bench ./bench
COPY tsconfig.json ./
USER node
# The admin port (/healthz, /readyz, /metrics); set admin.host to 0.0.0.0 in the task's configuration,
# and admin.tokenEnv with it (cli/README.md, "The admin port").
EXPOSE 9400
ENTRYPOINT ["node", "bin/shardflow.js"]
CMD ["run", "--config", "/etc/shardflow/shardflow.yaml"]
