# A Ferry node. Ferry runs TypeScript directly through tsx (a runtime dependency): no build step.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY log ./log
COPY raft ./raft
COPY controller ./controller
COPY node ./node
COPY client ./client
COPY bin ./bin
VOLUME ["/data"]
EXPOSE 9091 9092 9093
CMD ["node", "--import", "tsx", "node/main.ts"]
