import type { ComponentChildren } from "preact"
import { useEffect, useRef, useState } from "preact/hooks"

interface Props<T> {
  readonly items: ReadonlyArray<T>
  readonly rowHeight: number
  /** The list's height at most; a shorter list takes only what it needs. */
  readonly maxHeight: number
  readonly label: string
  readonly keyOf: (item: T) => string
  readonly render: (item: T) => ComponentChildren
  readonly class?: string
}

const overscan = 4

/**
 * A list that renders only the rows in view (plus a few), whatever its length. Arrow keys, Home and
 * End move the focus between rows, scrolling the list so that the row is rendered first.
 */
export function VirtualList<T>({ items, rowHeight, maxHeight, label, keyOf, render, class: className }: Props<T>) {
  const box = useRef<HTMLDivElement>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const focusIndex = useRef<number | undefined>(undefined)
  const height = Math.min(maxHeight, items.length * rowHeight)
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan)
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan)

  useEffect(() => {
    const index = focusIndex.current
    if (index === undefined) return
    focusIndex.current = undefined
    box.current?.querySelector<HTMLElement>(`[data-index="${index}"] button, [data-index="${index}"] a`)?.focus()
  })

  const onKeyDown = (event: KeyboardEvent) => {
    const row = (event.target as HTMLElement).closest<HTMLElement>("[data-index]")
    if (row === null || box.current === null) return
    const index = Number(row.dataset.index)
    const target =
      event.key === "ArrowDown" ? index + 1 : event.key === "ArrowUp" ? index - 1 : event.key === "Home" ? 0 : event.key === "End" ? items.length - 1 : undefined
    if (target === undefined || target < 0 || target >= items.length) return
    event.preventDefault()
    const top = target * rowHeight
    if (top < box.current.scrollTop) box.current.scrollTop = top
    else if (top + rowHeight > box.current.scrollTop + height) box.current.scrollTop = top + rowHeight - height
    focusIndex.current = target
    setScrollTop(box.current.scrollTop)
  }

  return (
    <div
      ref={box}
      class={`vlist ${className ?? ""}`}
      style={{ height: `${height}px` }}
      onScroll={(event) => setScrollTop((event.currentTarget as HTMLDivElement).scrollTop)}
      onKeyDown={onKeyDown}
    >
      <ul aria-label={label} style={{ height: `${items.length * rowHeight}px` }}>
        {items.slice(first, last).map((item, offset) => (
          <li
            key={keyOf(item)}
            data-index={first + offset}
            aria-setsize={items.length}
            aria-posinset={first + offset + 1}
            style={{ top: `${(first + offset) * rowHeight}px`, height: `${rowHeight}px` }}
          >
            {render(item)}
          </li>
        ))}
      </ul>
    </div>
  )
}
