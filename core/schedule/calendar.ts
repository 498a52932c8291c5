// A schedule calendar after parsing, the shape Temporal's structured calendars take. Pure types:
// the config parses into them, status and metrics reason over them.

/** A set of values of one calendar field: start..end every step (inclusive). */
export interface CalendarRange {
  start: number;
  end: number;
  step: number;
}

/** A calendar after parsing: numbers only (dayOfWeek 0 = Sunday, month 1 = January); an absent field matches every value. */
export interface Calendar {
  minute: CalendarRange[];
  hour: CalendarRange[];
  dayOfMonth?: CalendarRange[];
  month?: CalendarRange[];
  dayOfWeek?: CalendarRange[];
}
