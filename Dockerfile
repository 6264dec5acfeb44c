FROM oven/bun:1.4
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production
COPY src ./src
RUN bun run src/Dashboard/Build.ts
COPY migrations ./migrations
ENV PORT=3000
EXPOSE 3000
CMD ["bun", "run", "src/main.ts"]
